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

// AVX2 variants for 2x2 windows with stride 2 and no padding (is2x2Stride2 below). The backward
// returns false, having written part of gx, when an argmax lies outside its own window; the
// caller then runs the general kernel.
void weft_f32_max_pool2d_2x2__avx2fma(const Pool2dShape& s, const float* x, float* out, int32_t* argmax);
bool weft_f32_max_pool2d_backward_2x2__avx2fma(const Pool2dShape& s, const float* gy, const int32_t* argmax, float* gx);
void weft_f32_avg_pool2d_2x2__avx2fma(const Pool2dShape& s, const float* x, float* out);
void weft_f32_avg_pool2d_backward_2x2__avx2fma(const Pool2dShape& s, const float* gy, float* gx);

inline bool is2x2Stride2(const Pool2dShape& s) {
  return s.kh == 2 && s.kw == 2 && s.strideH == 2 && s.strideW == 2 && s.padH == 0 && s.padW == 0;
}

}  // namespace weft
