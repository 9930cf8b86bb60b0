#include "im2col.h"

#include <algorithm>
#include <cstring>

namespace weft {

namespace {

// The output columns xo whose input column xo * stride - pad + j lies inside [0, w): [first, last).
void validColumns(int w, int ow, int stride, int pad, int j, int* first, int* last) {
  // xo * stride >= pad - j  and  xo * stride <= w - 1 + pad - j
  const int lo = pad - j;
  const int hi = w - 1 + pad - j;
  int f = lo <= 0 ? 0 : (lo + stride - 1) / stride;
  int l = hi < 0 ? 0 : hi / stride + 1;
  *first = std::min(f, ow);
  *last = std::max(std::min(l, ow), *first);
}

}  // namespace

void im2colRows(const Conv2dShape& s, const float* x, int r0, int rows, float* col, int ldcol) {
  const int oh = s.outH(), ow = s.outW();
  for (int r = r0; r < r0 + rows; ++r) {
    const int j = r % s.kw, i = (r / s.kw) % s.kh, ch = r / (s.kw * s.kh);
    const float* plane = x + static_cast<size_t>(ch) * s.h * s.w;
    float* dst = col + static_cast<size_t>(r - r0) * ldcol;
    int first, last;
    validColumns(s.w, ow, s.strideW, s.padW, j, &first, &last);
    for (int y = 0; y < oh; ++y, dst += ow) {
      const int iy = y * s.strideH - s.padH + i;
      if (iy < 0 || iy >= s.h) {
        std::memset(dst, 0, sizeof(float) * ow);
        continue;
      }
      const float* src = plane + iy * s.w - s.padW + j;
      for (int xo = 0; xo < first; ++xo) dst[xo] = 0.0f;
      if (s.strideW == 1) std::memcpy(dst + first, src + first, sizeof(float) * (last - first));
      else for (int xo = first; xo < last; ++xo) dst[xo] = src[xo * s.strideW];
      for (int xo = last; xo < ow; ++xo) dst[xo] = 0.0f;
    }
  }
}

void col2im(const Conv2dShape& s, const float* gcol, float* gx) {
  const int oh = s.outH(), ow = s.outW();
  std::memset(gx, 0, sizeof(float) * static_cast<size_t>(s.c) * s.h * s.w);
  const int rows = s.c * s.kh * s.kw;
  for (int r = 0; r < rows; ++r) {
    const int j = r % s.kw, i = (r / s.kw) % s.kh, ch = r / (s.kw * s.kh);
    float* plane = gx + static_cast<size_t>(ch) * s.h * s.w;
    const float* src = gcol + static_cast<size_t>(r) * oh * ow;
    int first, last;
    validColumns(s.w, ow, s.strideW, s.padW, j, &first, &last);
    for (int y = 0; y < oh; ++y, src += ow) {
      const int iy = y * s.strideH - s.padH + i;
      if (iy < 0 || iy >= s.h) continue;
      float* dst = plane + iy * s.w - s.padW + j;
      if (s.strideW == 1) for (int xo = first; xo < last; ++xo) dst[xo] += src[xo];
      else for (int xo = first; xo < last; ++xo) dst[xo * s.strideW] += src[xo];
    }
  }
}

}  // namespace weft
