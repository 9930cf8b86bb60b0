// Softmax, log-softmax and cross-entropy over the last axis of (rows, cols), with gradients.
#pragma once
#include <cstdint>

#include "kernels/isa-table.h"

namespace weft {

struct F32SoftmaxKernels {
  void (*softmax)(const float* x, float* out, int64_t rows, int64_t cols);
  void (*logSoftmax)(const float* x, float* out, int64_t rows, int64_t cols);
  // gx = y * (gy - sum(gy * y)) per row.
  void (*softmaxBackward)(const float* y, const float* gy, float* gx, int64_t rows, int64_t cols);
  // gx = gy - exp(y) * sum(gy) per row.
  void (*logSoftmaxBackward)(const float* y, const float* gy, float* gx, int64_t rows, int64_t cols);
  // Writes softmax(logits) to probs; returns the float64 sum of -log p(target) over rows with a
  // target >= 0. Targets must already be checked to be < cols.
  double (*crossEntropy)(const float* logits, const int32_t* targets, float* probs, int64_t rows, int64_t cols);
  // gx = scale * (probs - onehot(target)); rows with a negative target get 0.
  void (*crossEntropyBackward)(const float* probs, const int32_t* targets, float* gx, int64_t rows, int64_t cols,
                               float scale);
};

WEFT_ISA_TABLE(F32SoftmaxKernels, f32Softmax)

}  // namespace weft
