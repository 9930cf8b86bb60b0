// 2-D convolution of NCHW tensors (no groups, no dilation): x (n, c, h, w) * weight (oc, c, kh, kw)
// -> out (n, oc, oh, ow), and its two gradients. Every output is overwritten.
#pragma once

namespace weft {

struct Conv2dShape {
  int n, c, h, w;
  int oc, kh, kw;
  int strideH, strideW, padH, padW;
  int outH() const { return (h + 2 * padH - kh) / strideH + 1; }
  int outW() const { return (w + 2 * padW - kw) / strideW + 1; }
};

// out = conv(x, weight) + bias (bias may be null).
void weft_f32_conv2d(const Conv2dShape& s, const float* x, const float* weight, const float* bias, float* out);
// gx = d(sum(gy * conv(x, weight))) / dx.
void weft_f32_conv2d_backward_input(const Conv2dShape& s, const float* gy, const float* weight, float* gx);
// gw (and gb unless null) = gradients of the convolution with respect to weight and bias.
void weft_f32_conv2d_backward_weight(const Conv2dShape& s, const float* x, const float* gy, float* gw, float* gb);

// The sum of x[0, n), for bias gradients (float partial sums, added up in double).
double sumFloats(const float* x, int n);

}  // namespace weft
