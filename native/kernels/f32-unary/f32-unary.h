// Element-wise functions of one input and their gradients. `op` is the index of the function in
// UNARY_OPS (src/backend/backend.ts), mirrored by the UnaryOp enum below.
#pragma once
#include <cstdint>

#include "kernels/isa-table.h"

namespace weft {

enum class UnaryOp { Neg, Exp, Log, Sqrt, Rsqrt, Abs, Tanh, Sigmoid, Relu, Gelu, Square, Reciprocal, Count };

struct F32UnaryKernels {
  // out[i] = f(x[i]).
  void (*unary)(UnaryOp op, const float* x, float* out, int64_t n);
  // gx[i] = gy[i] * f'(x[i]), using x or y = f(x), whichever is cheaper.
  void (*unaryBackward)(UnaryOp op, const float* x, const float* y, const float* gy, float* gx, int64_t n);
};

WEFT_ISA_TABLE(F32UnaryKernels, f32Unary)

}  // namespace weft
