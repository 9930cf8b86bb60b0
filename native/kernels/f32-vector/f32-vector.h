// Small whole-buffer kernels that autograd and the optimizers use: affine maps, fills, axpy,
// the squared norm (gradient clipping), the non-finite check (loss scaling, divergence) and the
// dropout mask.
#pragma once
#include <cstdint>

#include "kernels/isa-table.h"

namespace weft {

struct F32VectorKernels {
  // out[i] = alpha * x[i] + beta.
  void (*affine)(const float* x, float* out, int64_t n, float alpha, float beta);
  void (*fill)(float* x, int64_t n, float value);
  // y[i] += alpha * x[i].
  void (*axpy)(float alpha, const float* x, float* y, int64_t n);
  // sum(x[i]^2) accumulated in float64.
  double (*sumSquares)(const float* x, int64_t n);
  bool (*hasNonFinite)(const float* x, int64_t n);
  // out[i] = 0 when hash(seed, i) >> 8 < dropBelow, else keep: see Note [dropout hash] in
  // src/backend/reference/indexing.ts (dropoutThreshold turns p into dropBelow exactly).
  void (*dropoutMask)(float* out, int64_t n, uint32_t dropBelow, float keep, uint32_t seed);
};

// The integer form of `u < p` for u = k / 2^24: k < ceil(p * 2^24), exact for every double p.
uint32_t dropoutThreshold(double p);

WEFT_ISA_TABLE(F32VectorKernels, f32Vector)

}  // namespace weft
