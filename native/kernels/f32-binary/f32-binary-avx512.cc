// The AVX-512 build of the binary row kernel: Note [one body, three ISAs] in simd/simd-scalar.h.
#include "kernels/simd/simd-avx512.h"
#include "kernels/f32-binary/f32-binary.h"
#include "kernels/f32-binary/f32-binary-impl.inc"
