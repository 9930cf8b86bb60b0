#include "kernels/f32-index/f32-index.h"

#include <cstring>

#include "kernels/f32-vector/f32-vector.h"

namespace weft {

void f32IndexSelect(const float* table, const int32_t* index, int64_t count, float* out, int64_t cols) {
  for (int64_t r = 0; r < count; r++) {
    std::memcpy(out + r * cols, table + static_cast<int64_t>(index[r]) * cols, sizeof(float) * cols);
  }
}

void f32IndexAdd(const float* g, const int32_t* index, int64_t count, float* gtable, int64_t cols) {
  const auto axpy = f32Vector().axpy;
  for (int64_t r = 0; r < count; r++) axpy(1.0f, g + r * cols, gtable + static_cast<int64_t>(index[r]) * cols, cols);
}

void f32DropoutMask(float* out, int64_t n, double p, uint32_t seed) {
  const float keep = static_cast<float>(1.0 / (1.0 - p));
  for (int64_t i = 0; i < n; i++) {
    uint32_t h = seed ^ (static_cast<uint32_t>(i) * 0x9E3779B9u);
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    // 24 bits: exact in float, and compared in float64 as the reference does.
    const double u = static_cast<double>(h >> 8) / 16777216.0;
    out[i] = u < p ? 0.0f : keep;
  }
}

}  // namespace weft
