// Row gathers and scatters: embedding lookups and their gradients. These move data rather than
// compute, so one portable version serves every ISA (indexAdd's rows go through the ISA's axpy).
// Indices are checked by the caller (native/bind/indexing.cc) before any row is touched.
#pragma once
#include <cstdint>

namespace weft {

// out[r, :] = table[index[r], :].
void f32IndexSelect(const float* table, const int32_t* index, int64_t count, float* out, int64_t cols);
// gtable[index[r], :] += g[r, :].
void f32IndexAdd(const float* g, const int32_t* index, int64_t count, float* gtable, int64_t cols);
}  // namespace weft
