// Portable convolution data movement: one element at a time.
#include "conv2d-kernels.h"

namespace weft {

namespace {

void packGather(const float* base, const int32_t* rowOffset, int k, const int32_t* colOffset, int n, int nr,
                size_t panelStride, float* out) {
  for (int j0 = 0; j0 < n; j0 += nr) {
    const int cols = n - j0 < nr ? n - j0 : nr;
    float* panel = out + static_cast<size_t>(j0 / nr) * panelStride;
    for (int l = 0; l < k; ++l) {
      const float* row = base + rowOffset[l];
      float* dst = panel + static_cast<size_t>(l) * nr;
      for (int j = 0; j < cols; ++j) dst[j] = row[colOffset[j0 + j]];
      for (int j = cols; j < nr; ++j) dst[j] = 0.0f;
    }
  }
}

void scatterAdd(const float* src, ptrdiff_t ld, int k, int n, const int32_t* rowOffset, const int32_t* colOffset,
                float* base) {
  for (int l = 0; l < k; ++l) {
    float* row = base + rowOffset[l];
    const float* s = src + l * ld;
    for (int j = 0; j < n; ++j) row[colOffset[j]] += s[j];
  }
}

}  // namespace

const ConvKernels& convKernels__scalar() {
  static const ConvKernels kernels{packGather, scatterAdd};
  return kernels;
}

}  // namespace weft
