// Reductions over the middle axis of an (outer, n, inner) view. `op` is the index in REDUCE_OPS
// (src/backend/backend.ts), mirrored by ReduceOp.
#pragma once
#include <cstdint>

#include "kernels/isa-table.h"

namespace weft {

enum class ReduceOp { Sum, Max, Min, Count };

struct F32ReduceKernels {
  // out[o, i] = reduce over j < n of x[o, j, i]; an empty axis gives 0, -inf or +inf.
  void (*reduce)(ReduceOp op, const float* x, float* out, int64_t outer, int64_t n, int64_t inner);
};

WEFT_ISA_TABLE(F32ReduceKernels, f32Reduce)

}  // namespace weft
