// Element-wise functions of two inputs with broadcasting. `op` is the index in BINARY_OPS
// (src/backend/backend.ts), mirrored by BinaryOp.
#pragma once
#include <cstdint>

#include "kernels/isa-table.h"

namespace weft {

enum class BinaryOp { Add, Sub, Mul, Div, Max, Min, Pow, Count };

struct F32BinaryKernels {
  // out[i] = a[i * sa] op b[i * sb] for i < n; sa/sb of 1 and 0 are the fast paths. Not pow.
  void (*binaryRow)(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb, float* out, int64_t n);
};

WEFT_ISA_TABLE(F32BinaryKernels, f32BinaryRows)

// out (contiguous, `shape`) = a op b over strided views; rank <= kMaxRank (strided-loop.h).
void f32Binary(BinaryOp op, const float* a, const int64_t* aStrides, const float* b, const int64_t* bStrides,
               float* out, const int32_t* shape, int rank);

}  // namespace weft
