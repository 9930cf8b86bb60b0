// The AVX-512 build of the reductions: Note [one body, three ISAs] in simd/simd-scalar.h.
#include "kernels/simd/simd-avx512.h"
#include "kernels/f32-reduce/f32-reduce.h"
#include "kernels/f32-reduce/f32-reduce-impl.inc"
