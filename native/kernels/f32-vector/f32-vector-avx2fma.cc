// The AVX2+FMA build of the vector kernels: Note [one body, three ISAs] in simd/simd-scalar.h.
#include "kernels/simd/simd-avx2fma.h"
#include "kernels/f32-vector/f32-vector.h"
#include "kernels/f32-vector/f32-vector-impl.inc"
