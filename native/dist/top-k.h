// The selection of top-k sparsification (src/distributed/strategies/top-k-select.ts, which holds
// the same algorithm in JavaScript for builds without the addon): the indices of the k entries
// largest in magnitude, ascending, ties at the k-th magnitude going to the lower indices, NaN
// counting as the largest magnitude. Both give the same indices for the same input, so ranks
// with and without the addon choose alike.
#pragma once

#include <cstddef>
#include <cstdint>

namespace weft::topk {

/** Writes the k chosen indices (1 <= k <= n) to `out`, ascending; `scratch` (n floats) is overwritten. */
void largestMagnitudes(const float* values, size_t n, size_t k, int32_t* out, float* scratch);

}  // namespace weft::topk
