// The AVX-512 build of the optimizer steps: Note [one body, three ISAs] in simd/simd-scalar.h.
#include "kernels/simd/simd-avx512.h"
#include "kernels/f32-optim/f32-optim.h"
#include "kernels/f32-optim/f32-optim-impl.inc"
