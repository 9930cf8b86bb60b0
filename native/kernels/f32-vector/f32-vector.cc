#include <cmath>

#include "kernels/f32-vector/f32-vector.h"

namespace weft {

uint32_t dropoutThreshold(double p) {
  constexpr double kOne = 16777216.0;  // 2^24: u = k / 2^24 for the 24-bit k
  // NaN drops nothing (u < NaN is false); p >= 1 drops everything, since k < 2^24.
  if (!(p > 0.0)) return 0;
  if (p >= 1.0) return static_cast<uint32_t>(kOne);
  return static_cast<uint32_t>(std::ceil(p * kOne));
}

}  // namespace weft
