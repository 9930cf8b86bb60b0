// The scalar build of the unary kernels: Note [one body, three ISAs] in simd/simd-scalar.h.
#include "kernels/simd/simd-scalar.h"
#include "kernels/f32-unary/f32-unary.h"
#include "kernels/f32-unary/f32-unary-impl.inc"
