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

}  // namespace weft
