// Pooling for any window, stride and padding, one output at a time.
#include <cmath>
#include <cstring>

#include "pool2d.h"

namespace weft {

namespace {

// Calls visit(plane, y0, y1, x0, x1) for every window in output order, where plane is the window's
// plane index and [y0, y1) x [x0, x1) the part of the window inside the input.
template <typename Visit>
void forEachWindow(const Pool2dShape& s, Visit visit) {
  const int oh = s.outH(), ow = s.outW();
  const long planes = static_cast<long>(s.n) * s.c;
  for (long p = 0; p < planes; ++p) {
    for (int y = 0; y < oh; ++y) {
      const int top = y * s.strideH - s.padH;
      const int y0 = top < 0 ? 0 : top, y1 = top + s.kh > s.h ? s.h : top + s.kh;
      for (int xo = 0; xo < ow; ++xo) {
        const int left = xo * s.strideW - s.padW;
        const int x0 = left < 0 ? 0 : left, x1 = left + s.kw > s.w ? s.w : left + s.kw;
        visit(p, y0, y1, x0, x1);
      }
    }
  }
}

}  // namespace

void weft_f32_max_pool2d__scalar(const Pool2dShape& s, const float* x, float* out, int32_t* argmax) {
  forEachWindow(s, [&](long p, int y0, int y1, int x0, int x1) {
    const float* plane = x + p * s.h * s.w;
    float best = -INFINITY;
    int32_t where = -1;
    for (int iy = y0; iy < y1; ++iy) {
      for (int ix = x0; ix < x1; ++ix) {
        const float v = plane[iy * s.w + ix];
        if (v > best || std::isnan(v) || where < 0) {
          best = v;
          where = iy * s.w + ix;
        }
      }
    }
    *out++ = best;
    *argmax++ = where;
  });
}

bool weft_f32_max_pool2d_backward__scalar(const Pool2dShape& s, const float* gy, const int32_t* argmax, float* gx) {
  const long planeSize = static_cast<long>(s.h) * s.w, outSize = static_cast<long>(s.outH()) * s.outW();
  const long planes = static_cast<long>(s.n) * s.c;
  std::memset(gx, 0, sizeof(float) * planes * planeSize);
  bool inRange = true;
  for (long p = 0; p < planes; ++p, gx += planeSize) {
    for (long q = 0; q < outSize; ++q) {
      const int32_t where = *argmax++;
      const float g = *gy++;
      if (where >= planeSize) inRange = false;
      else if (where >= 0) gx[where] += g;
    }
  }
  return inRange;
}

void weft_f32_avg_pool2d__scalar(const Pool2dShape& s, const float* x, float* out) {
  forEachWindow(s, [&](long p, int y0, int y1, int x0, int x1) {
    const float* plane = x + p * s.h * s.w;
    float sum = 0.0f;
    for (int iy = y0; iy < y1; ++iy) for (int ix = x0; ix < x1; ++ix) sum += plane[iy * s.w + ix];
    const int count = (y1 > y0 && x1 > x0) ? (y1 - y0) * (x1 - x0) : 0;
    *out++ = count > 0 ? sum / static_cast<float>(count) : 0.0f;
  });
}

void weft_f32_avg_pool2d_backward__scalar(const Pool2dShape& s, const float* gy, float* gx) {
  std::memset(gx, 0, sizeof(float) * s.n * s.c * s.h * s.w);
  forEachWindow(s, [&](long p, int y0, int y1, int x0, int x1) {
    const float g = *gy++;
    if (y1 <= y0 || x1 <= x0) return;
    float* plane = gx + p * s.h * s.w;
    const float share = g / static_cast<float>((y1 - y0) * (x1 - x0));
    for (int iy = y0; iy < y1; ++iy) for (int ix = x0; ix < x1; ++ix) plane[iy * s.w + ix] += share;
  });
}

}  // namespace weft
