// Chooses the pooling variant for the active instruction set and the window shape.
#include "pool2d.h"

namespace weft {

void weft_f32_max_pool2d(const Pool2dShape& s, const float* x, float* out, int32_t* argmax) {
  weft_f32_max_pool2d__scalar(s, x, out, argmax);
}

bool weft_f32_max_pool2d_backward(const Pool2dShape& s, const float* gy, const int32_t* argmax, float* gx) {
  return weft_f32_max_pool2d_backward__scalar(s, gy, argmax, gx);
}

void weft_f32_avg_pool2d(const Pool2dShape& s, const float* x, float* out) { weft_f32_avg_pool2d__scalar(s, x, out); }

void weft_f32_avg_pool2d_backward(const Pool2dShape& s, const float* gy, float* gx) {
  weft_f32_avg_pool2d_backward__scalar(s, gy, gx);
}

}  // namespace weft
