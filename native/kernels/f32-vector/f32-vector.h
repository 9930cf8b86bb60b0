// Small whole-buffer kernels that autograd and the optimizers use: affine maps, fills, axpy,
// the squared norm (gradient clipping) and the non-finite check (loss scaling, divergence).
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
};

WEFT_ISA_TABLE(F32VectorKernels, f32Vector)

}  // namespace weft
