// The AVX2+FMA build of the GEMM epilogue: Note [one body, three ISAs] in simd/simd-scalar.h.
#include "kernels/simd/simd-avx2fma.h"
#include "kernels/f32-epilogue/f32-epilogue.h"
#include "kernels/f32-epilogue/f32-epilogue-impl.inc"
