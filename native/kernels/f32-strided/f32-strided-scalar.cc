// The scalar build of the strided row kernels: Note [one body, three ISAs] in simd/simd-scalar.h.
#include "kernels/simd/simd-scalar.h"
#include "kernels/f32-strided/f32-strided.h"
#include "kernels/f32-strided/f32-strided-impl.inc"
