// Layer normalisation (per row of (rows, cols)) and batch normalisation (per channel of
// (n, c, hw)), forward and backward; see src/backend/backend.ts for the exact contracts.
#pragma once
#include <cstdint>

#include "kernels/isa-table.h"

namespace weft {

struct F32NormKernels {
  // gamma and beta may be null (no affine part).
  void (*layerNorm)(const float* x, const float* gamma, const float* beta, float* out, float* mean, float* rstd,
                    int64_t rows, int64_t cols, float eps);
  // ggamma and gbeta may be null; when given they are overwritten with the sums over rows.
  void (*layerNormBackward)(const float* x, const float* gamma, const float* mean, const float* rstd,
                            const float* gy, float* gx, float* ggamma, float* gbeta, int64_t rows, int64_t cols);
  void (*batchNorm)(const float* x, const float* gamma, const float* beta, float* out, float* mean, float* invstd,
                    float* runningMean, float* runningVar, int64_t n, int64_t c, int64_t hw, float eps,
                    float momentum, bool training);
  void (*batchNormBackward)(const float* x, const float* gamma, const float* mean, const float* invstd,
                            const float* gy, float* gx, float* ggamma, float* gbeta, int64_t n, int64_t c,
                            int64_t hw);
};

WEFT_ISA_TABLE(F32NormKernels, f32Norm)

}  // namespace weft
