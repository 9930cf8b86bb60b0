// Single-precision GEMM, row-major: C = alpha * op(A) * op(B) + beta * C, where op(A) is m x k
// and op(B) is k x n. With transA, A is stored k x m (leading dimension lda >= m); likewise B.
// beta == 0 overwrites C without reading it (NaNs in C do not leak through).
// weft_f32_gemm dispatches on activeIsa(); the suffixed variants are the per-ISA kernels.
#pragma once

namespace weft {

using GemmFn = void (*)(bool transA, bool transB, int m, int n, int k, float alpha, const float* a, int lda,
                        const float* b, int ldb, float beta, float* c, int ldc);

void weft_f32_gemm(bool transA, bool transB, int m, int n, int k, float alpha, const float* a, int lda,
                   const float* b, int ldb, float beta, float* c, int ldc);
void weft_f32_gemm__scalar(bool transA, bool transB, int m, int n, int k, float alpha, const float* a, int lda,
                           const float* b, int ldb, float beta, float* c, int ldc);
void weft_f32_gemm__avx2fma(bool transA, bool transB, int m, int n, int k, float alpha, const float* a, int lda,
                            const float* b, int ldb, float beta, float* c, int ldc);
void weft_f32_gemm__avx512(bool transA, bool transB, int m, int n, int k, float alpha, const float* a, int lda,
                           const float* b, int ldb, float beta, float* c, int ldc);

}  // namespace weft
