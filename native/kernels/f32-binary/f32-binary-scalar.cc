// The scalar build of the binary row kernel: Note [one body, three ISAs] in simd/simd-scalar.h.
#include "kernels/simd/simd-scalar.h"
#include "kernels/f32-binary/f32-binary.h"
#include "kernels/f32-binary/f32-binary-impl.inc"
