// Row gathers and scatters (embedding lookups and their gradients) and the dropout mask. These
// move or hash data rather than compute, so one portable version serves every ISA. Indices are
// checked by the caller (native/bind/indexing.cc) before any row is touched.
#pragma once
#include <cstdint>

namespace weft {

// out[r, :] = table[index[r], :].
void f32IndexSelect(const float* table, const int32_t* index, int64_t count, float* out, int64_t cols);
// gtable[index[r], :] += g[r, :].
void f32IndexAdd(const float* g, const int32_t* index, int64_t count, float* gtable, int64_t cols);
// out[i] = 0 with probability p, else 1 / (1 - p), from (seed, i) alone: Note [dropout hash] in
// src/backend/reference/indexing.ts, which this matches bit for bit.
void f32DropoutMask(float* out, int64_t n, double p, uint32_t seed);

}  // namespace weft
