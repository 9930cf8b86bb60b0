// Max and average pooling over NCHW planes, and their gradients. Every output is overwritten.
// Max: padding never wins, a NaN in a window wins (as in PyTorch), argmax is the flat index
// iy * w + ix of the winner in its plane (-1 for a window wholly in the padding). Average: the
// mean of the window's elements inside the input (padding is not counted).
#pragma once
#include <cstdint>

namespace weft {

struct Pool2dShape {
  int n, c, h, w;
  int kh, kw;
  int strideH, strideW, padH, padW;
  int outH() const { return (h + 2 * padH - kh) / strideH + 1; }
  int outW() const { return (w + 2 * padW - kw) / strideW + 1; }
};

void weft_f32_max_pool2d(const Pool2dShape& s, const float* x, float* out, int32_t* argmax);
// Returns false when an argmax lies outside its plane (those entries are skipped).
bool weft_f32_max_pool2d_backward(const Pool2dShape& s, const float* gy, const int32_t* argmax, float* gx);
void weft_f32_avg_pool2d(const Pool2dShape& s, const float* x, float* out);
void weft_f32_avg_pool2d_backward(const Pool2dShape& s, const float* gy, float* gx);

// Per-ISA variants, same contracts.
void weft_f32_max_pool2d__scalar(const Pool2dShape& s, const float* x, float* out, int32_t* argmax);
bool weft_f32_max_pool2d_backward__scalar(const Pool2dShape& s, const float* gy, const int32_t* argmax, float* gx);
void weft_f32_avg_pool2d__scalar(const Pool2dShape& s, const float* x, float* out);
void weft_f32_avg_pool2d_backward__scalar(const Pool2dShape& s, const float* gy, float* gx);

}  // namespace weft
