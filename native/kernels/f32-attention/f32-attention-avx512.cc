// The AVX-512 build of the attention family: Note [one body, three ISAs] in simd/simd-scalar.h.
#include "kernels/simd/simd-avx512.h"
#include "kernels/f32-attention/f32-attention.h"
#include "kernels/f32-attention/f32-attention-impl.inc"
