// Chooses the pooling variant: the AVX2 kernels for 2x2 windows with stride 2 (AVX-512 CPUs run
// them too: pooling is bound by memory, not by vector width), the general scalar ones otherwise.
#include "cpu.h"
#include "pool2d.h"

namespace weft {

namespace {

bool useAvx2(const Pool2dShape& s) { return activeIsa() != Isa::Scalar && is2x2Stride2(s); }

}  // namespace

void weft_f32_max_pool2d(const Pool2dShape& s, const float* x, float* out, int32_t* argmax) {
  if (useAvx2(s)) return weft_f32_max_pool2d_2x2__avx2fma(s, x, out, argmax);
  weft_f32_max_pool2d__scalar(s, x, out, argmax);
}

bool weft_f32_max_pool2d_backward(const Pool2dShape& s, const float* gy, const int32_t* argmax, float* gx) {
  if (useAvx2(s) && weft_f32_max_pool2d_backward_2x2__avx2fma(s, gy, argmax, gx)) return true;
  return weft_f32_max_pool2d_backward__scalar(s, gy, argmax, gx);
}

void weft_f32_avg_pool2d(const Pool2dShape& s, const float* x, float* out) {
  if (useAvx2(s)) return weft_f32_avg_pool2d_2x2__avx2fma(s, x, out);
  weft_f32_avg_pool2d__scalar(s, x, out);
}

void weft_f32_avg_pool2d_backward(const Pool2dShape& s, const float* gy, float* gx) {
  if (useAvx2(s)) return weft_f32_avg_pool2d_backward_2x2__avx2fma(s, gy, gx);
  weft_f32_avg_pool2d_backward__scalar(s, gy, gx);
}

}  // namespace weft
