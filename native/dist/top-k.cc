// Top-k by magnitude (top-k.h): std::nth_element finds the k-th largest magnitude (the same value
// whatever the algorithm, so the JavaScript quickselect agrees); what lies above it is counted in
// the k places nth_element leaves after it, and one pass takes that and the first ties by index.
#include "dist/top-k.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace weft::topk {

namespace {

// |x|, with NaN as the largest magnitude of all, so a NaN gradient is sent (and seen) rather than hidden.
inline float magnitude(float x) { return x != x ? std::numeric_limits<float>::infinity() : std::fabs(x); }

}  // namespace

void largestMagnitudes(const float* values, size_t n, size_t k, int32_t* out, float* scratch) {
  for (size_t i = 0; i < n; i++) scratch[i] = magnitude(values[i]);
  std::nth_element(scratch, scratch + (n - k), scratch + n);
  const float threshold = scratch[n - k];
  // nth_element leaves every magnitude above the threshold after it: count them there, among k.
  size_t above = 0;
  for (size_t i = n - k + 1; i < n; i++) above += scratch[i] > threshold ? 1 : 0;
  size_t ties = k - above;
  size_t m = 0;
  for (size_t i = 0; i < n && m < k; i++) {
    const float v = magnitude(values[i]);
    if (v > threshold) {
      out[m++] = static_cast<int32_t>(i);
    } else if (v == threshold && ties > 0) {
      ties--;
      out[m++] = static_cast<int32_t>(i);
    }
  }
}

}  // namespace weft::topk
