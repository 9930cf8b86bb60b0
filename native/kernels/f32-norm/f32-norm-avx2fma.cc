// The AVX2+FMA build of the normalisation kernels: Note [one body, three ISAs] in simd/simd-scalar.h.
#include "kernels/simd/simd-avx2fma.h"
#include "kernels/f32-norm/f32-norm.h"
#include "kernels/f32-norm/f32-norm-impl.inc"
