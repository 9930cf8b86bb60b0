// The AVX-512 build of the GEMM epilogue: Note [one body, three ISAs] in simd/simd-scalar.h.
#include "kernels/simd/simd-avx512.h"
#include "kernels/f32-epilogue/f32-epilogue.h"
#include "kernels/f32-epilogue/f32-epilogue-impl.inc"
