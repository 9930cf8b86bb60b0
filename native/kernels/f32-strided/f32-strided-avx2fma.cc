// The AVX2+FMA build of the strided row kernels: Note [one body, three ISAs] in simd/simd-scalar.h.
#include "kernels/simd/simd-avx2fma.h"
#include "kernels/f32-strided/f32-strided.h"
#include "kernels/f32-strided/f32-strided-impl.inc"
