// Convolution as GEMM over im2col columns, one image at a time (the columns of one image fit in
// L2 for the small images Weft trains on; a whole batch of them would not).
#include "conv2d.h"

#include <algorithm>

#include "im2col.h"
#include "kernels/f32-gemm/f32-gemm.h"
#include "kernels/f32-gemm/scratch.h"

namespace weft {

void weft_f32_conv2d(const Conv2dShape& s, const float* x, const float* weight, const float* bias, float* out) {
  const int taps = s.c * s.kh * s.kw, pixels = s.outH() * s.outW();
  const GemmKernels& g = activeGemmKernels();
  float* col = scratchFloats(ScratchSlot::ConvColumns, static_cast<size_t>(taps) * pixels);
  for (int b = 0; b < s.n; ++b) {
    const float* xb = x + static_cast<size_t>(b) * s.c * s.h * s.w;
    float* ob = out + static_cast<size_t>(b) * s.oc * pixels;
    im2colRows(s, xb, 0, taps, col, pixels);
    if (bias != nullptr) {
      for (int o = 0; o < s.oc; ++o) std::fill(ob + o * pixels, ob + (o + 1) * pixels, bias[o]);
    }
    gemmStrided(g, {weight, taps, 1}, {col, pixels, 1}, s.oc, pixels, taps, 1.0f, bias != nullptr ? 1.0f : 0.0f, ob,
                pixels);
  }
}

void weft_f32_conv2d_backward_input(const Conv2dShape& s, const float* gy, const float* weight, float* gx) {
  const int taps = s.c * s.kh * s.kw, pixels = s.outH() * s.outW();
  const GemmKernels& g = activeGemmKernels();
  float* gcol = scratchFloats(ScratchSlot::ConvColumns, static_cast<size_t>(taps) * pixels);
  for (int b = 0; b < s.n; ++b) {
    const float* gyb = gy + static_cast<size_t>(b) * s.oc * pixels;
    // gcol (taps, pixels) = weight^T (taps, oc) * gy_b (oc, pixels)
    gemmStrided(g, {weight, 1, taps}, {gyb, pixels, 1}, taps, pixels, s.oc, 1.0f, 0.0f, gcol, pixels);
    col2im(s, gcol, gx + static_cast<size_t>(b) * s.c * s.h * s.w);
  }
}

void weft_f32_conv2d_backward_weight(const Conv2dShape& s, const float* x, const float* gy, float* gw, float* gb) {
  const int taps = s.c * s.kh * s.kw, pixels = s.outH() * s.outW();
  const GemmKernels& g = activeGemmKernels();
  float* col = scratchFloats(ScratchSlot::ConvColumns, static_cast<size_t>(taps) * pixels);
  if (s.n == 0) std::fill(gw, gw + static_cast<size_t>(s.oc) * taps, 0.0f);
  for (int b = 0; b < s.n; ++b) {
    im2colRows(s, x + static_cast<size_t>(b) * s.c * s.h * s.w, 0, taps, col, pixels);
    // gw (oc, taps) += gy_b (oc, pixels) * col^T (pixels, taps)
    gemmStrided(g, {gy + static_cast<size_t>(b) * s.oc * pixels, pixels, 1}, {col, 1, pixels}, s.oc, taps, pixels,
                1.0f, b == 0 ? 0.0f : 1.0f, gw, taps);
  }
  if (gb != nullptr) {
    for (int o = 0; o < s.oc; ++o) {
      double sum = 0;
      for (int b = 0; b < s.n; ++b) {
        const float* row = gy + (static_cast<size_t>(b) * s.oc + o) * pixels;
        for (int q = 0; q < pixels; ++q) sum += row[q];
      }
      gb[o] = static_cast<float>(sum);
    }
  }
}

}  // namespace weft
