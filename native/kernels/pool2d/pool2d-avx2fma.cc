// AVX2 pooling for the common 2x2 window with stride 2 and no padding (the windows tile the
// plane, so every input belongs to at most one window). A row of outputs is done N at a time
// (8 with ymm registers, 4 with xmm for rows of 4 to 7): two loads per input row give 2N floats,
// split into the even and odd columns of the N windows. The last partial group of a row is
// redone by a vector overlapping the previous one (same results, written again). Selections are
// blends, not branches: which element of a window wins is data-dependent and unpredictable.
#include <immintrin.h>

#include <cstring>

#include "pool2d.h"

namespace weft {

namespace {

struct Ymm {
  static constexpr int N = 8;
  using F = __m256;
  using I = __m256i;
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static I loadInt(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void storeInt(int32_t* p, I v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static F splat(float v) { return _mm256_set1_ps(v); }
  static I splatInt(int32_t v) { return _mm256_set1_epi32(v); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F bitAnd(F a, F b) { return _mm256_and_ps(a, b); }
  static F bitOr(F a, F b) { return _mm256_or_ps(a, b); }
  static I addInt(I a, I b) { return _mm256_add_epi32(a, b); }
  static I subInt(I a, I b) { return _mm256_sub_epi32(a, b); }
  static F equalInt(I a, I b) { return _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b)); }
  static F greaterOrNan(F v, F best) {
    return _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  }
  static F blend(F a, F b, F mask) { return _mm256_blendv_ps(a, b, mask); }
  static I blendInt(I a, I b, F mask) {
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), mask));
  }
  static bool allSet(F mask) { return _mm256_movemask_ps(mask) == 0xff; }
  // Flat offsets of the first column of N consecutive windows.
  static I evenOffsets() { return _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14); }
  // The even and odd elements of 2N consecutive floats, in order.
  static void splitEvenOdd(const float* p, F* even, F* odd) {
    const F a = load(p), b = load(p + N);
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xd8));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xdd)), 0xd8));
  }
  // The inverse of splitEvenOdd.
  static void storeInterleaved(float* p, F even, F odd) {
    const F lo = _mm256_unpacklo_ps(even, odd), hi = _mm256_unpackhi_ps(even, odd);
    store(p, _mm256_permute2f128_ps(lo, hi, 0x20));
    store(p + N, _mm256_permute2f128_ps(lo, hi, 0x31));
  }
};

struct Xmm {
  static constexpr int N = 4;
  using F = __m128;
  using I = __m128i;
  static F load(const float* p) { return _mm_loadu_ps(p); }
  static void store(float* p, F v) { _mm_storeu_ps(p, v); }
  static I loadInt(const int32_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
  static void storeInt(int32_t* p, I v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v); }
  static F splat(float v) { return _mm_set1_ps(v); }
  static I splatInt(int32_t v) { return _mm_set1_epi32(v); }
  static F add(F a, F b) { return _mm_add_ps(a, b); }
  static F mul(F a, F b) { return _mm_mul_ps(a, b); }
  static F bitAnd(F a, F b) { return _mm_and_ps(a, b); }
  static F bitOr(F a, F b) { return _mm_or_ps(a, b); }
  static I addInt(I a, I b) { return _mm_add_epi32(a, b); }
  static I subInt(I a, I b) { return _mm_sub_epi32(a, b); }
  static F equalInt(I a, I b) { return _mm_castsi128_ps(_mm_cmpeq_epi32(a, b)); }
  static F greaterOrNan(F v, F best) { return _mm_or_ps(_mm_cmpgt_ps(v, best), _mm_cmpunord_ps(v, v)); }
  static F blend(F a, F b, F mask) { return _mm_blendv_ps(a, b, mask); }
  static I blendInt(I a, I b, F mask) {
    return _mm_castps_si128(_mm_blendv_ps(_mm_castsi128_ps(a), _mm_castsi128_ps(b), mask));
  }
  static bool allSet(F mask) { return _mm_movemask_ps(mask) == 0xf; }
  static I evenOffsets() { return _mm_setr_epi32(0, 2, 4, 6); }
  static void splitEvenOdd(const float* p, F* even, F* odd) {
    const F a = load(p), b = load(p + N);
    *even = _mm_shuffle_ps(a, b, 0x88);
    *odd = _mm_shuffle_ps(a, b, 0xdd);
  }
  static void storeInterleaved(float* p, F even, F odd) {
    store(p, _mm_unpacklo_ps(even, odd));
    store(p + N, _mm_unpackhi_ps(even, odd));
  }
};

// Calls body(x0) for x0 = 0, N, 2N, ... and finally ow - N, covering [0, ow) (needs ow >= N).
template <int N, typename Body>
inline void forEachGroup(int ow, Body body) {
  for (int x0 = 0;; x0 += N) {
    if (x0 > ow - N) x0 = ow - N;
    body(x0);
    if (x0 == ow - N) return;
  }
}

// One output row of max pooling; r0 is the window's top input row, `first` the flat index of r0[0].
template <class V>
void maxRow(const float* r0, int w, int ow, int32_t first, float* out, int32_t* argmax) {
  using F = typename V::F;
  using I = typename V::I;
  const I right = V::splatInt(1), down = V::splatInt(w), diag = V::splatInt(w + 1);
  forEachGroup<V::N>(ow, [&](int x0) {
    F e0, o0, e1, o1;
    V::splitEvenOdd(r0 + 2 * x0, &e0, &o0);
    V::splitEvenOdd(r0 + w + 2 * x0, &e1, &o1);
    const I base = V::addInt(V::splatInt(first + 2 * x0), V::evenOffsets());
    // Row-major order, the first element always taken: ties keep the earliest, NaN wins.
    F best = e0;
    I where = base;
    const F candidates[3] = {o0, e1, o1};
    const I at[3] = {V::addInt(base, right), V::addInt(base, down), V::addInt(base, diag)};
    for (int i = 0; i < 3; ++i) {
      const F take = V::greaterOrNan(candidates[i], best);
      best = V::blend(best, candidates[i], take);
      where = V::blendInt(where, at[i], take);
    }
    V::store(out + x0, best);
    V::storeInt(argmax + x0, where);
  });
}

// One output row of the max-pool gradient: each input of a window gets gy where the argmax points
// at it, else 0. Returns false on an argmax outside its own window (not written by maxPool2d).
template <class V>
bool maxBackwardRow(const float* gy, const int32_t* argmax, int w, int ow, int32_t first, float* r0) {
  using F = typename V::F;
  using I = typename V::I;
  const I zero = V::splatInt(0), right = V::splatInt(1), down = V::splatInt(w), diag = V::splatInt(w + 1);
  bool ok = true;
  forEachGroup<V::N>(ow, [&](int x0) {
    const F g = V::load(gy + x0);
    const I d = V::subInt(V::loadInt(argmax + x0), V::addInt(V::splatInt(first + 2 * x0), V::evenOffsets()));
    const F m00 = V::equalInt(d, zero), m01 = V::equalInt(d, right);
    const F m10 = V::equalInt(d, down), m11 = V::equalInt(d, diag);
    ok = ok && V::allSet(V::bitOr(V::bitOr(m00, m01), V::bitOr(m10, m11)));
    V::storeInterleaved(r0 + 2 * x0, V::bitAnd(g, m00), V::bitAnd(g, m01));
    V::storeInterleaved(r0 + w + 2 * x0, V::bitAnd(g, m10), V::bitAnd(g, m11));
  });
  return ok;
}

template <class V>
void avgRow(const float* r0, int w, int ow, float* out) {
  const typename V::F quarter = V::splat(0.25f);
  forEachGroup<V::N>(ow, [&](int x0) {
    typename V::F e0, o0, e1, o1;
    V::splitEvenOdd(r0 + 2 * x0, &e0, &o0);
    V::splitEvenOdd(r0 + w + 2 * x0, &e1, &o1);
    V::store(out + x0, V::mul(V::add(V::add(e0, o0), V::add(e1, o1)), quarter));
  });
}

template <class V>
void avgBackwardRow(const float* gy, int w, int ow, float* r0) {
  const typename V::F quarter = V::splat(0.25f);
  forEachGroup<V::N>(ow, [&](int x0) {
    const typename V::F g = V::mul(V::load(gy + x0), quarter);
    V::storeInterleaved(r0 + 2 * x0, g, g);
    V::storeInterleaved(r0 + w + 2 * x0, g, g);
  });
}

// Rows of fewer than 4 outputs (planes narrower than 8): one window at a time.
void maxRowNarrow(const float* r0, int w, int ow, int32_t first, float* out, int32_t* argmax) {
  for (int xo = 0; xo < ow; ++xo) {
    const float* p = r0 + 2 * xo;
    const float cand[4] = {p[0], p[1], p[w], p[w + 1]};
    const int32_t at[4] = {0, 1, w, w + 1};
    int best = 0;
    for (int i = 1; i < 4; ++i) best = (cand[i] > cand[best] || cand[i] != cand[i]) ? i : best;
    out[xo] = cand[best];
    argmax[xo] = first + 2 * xo + at[best];
  }
}

bool maxBackwardRowNarrow(const float* gy, const int32_t* argmax, int w, int ow, int32_t first, float* r0) {
  for (int xo = 0; xo < ow; ++xo) {
    const int32_t d = argmax[xo] - (first + 2 * xo);
    if (d != 0 && d != 1 && d != w && d != w + 1) return false;
    float* p = r0 + 2 * xo;
    p[0] = p[1] = p[w] = p[w + 1] = 0.0f;
    p[d] = gy[xo];
  }
  return true;
}

// Zeroes the inputs no window reads: the last column of an odd width, the last row of an odd height.
void zeroUncovered(const Pool2dShape& s, int oh, int ow, float* plane) {
  if (s.w > 2 * ow) for (int y = 0; y < 2 * oh; ++y) plane[y * s.w + s.w - 1] = 0.0f;
  if (s.h > 2 * oh) std::memset(plane + static_cast<long>(s.h - 1) * s.w, 0, sizeof(float) * s.w);
}

}  // namespace

void weft_f32_max_pool2d_2x2__avx2fma(const Pool2dShape& s, const float* x, float* out, int32_t* argmax) {
  const int oh = s.outH(), ow = s.outW(), w = s.w;
  const long planes = static_cast<long>(s.n) * s.c;
  for (long p = 0; p < planes; ++p) {
    const float* plane = x + p * s.h * w;
    for (int y = 0; y < oh; ++y, out += ow, argmax += ow) {
      const float* r0 = plane + 2 * y * w;
      if (ow >= 8) maxRow<Ymm>(r0, w, ow, 2 * y * w, out, argmax);
      else if (ow >= 4) maxRow<Xmm>(r0, w, ow, 2 * y * w, out, argmax);
      else maxRowNarrow(r0, w, ow, 2 * y * w, out, argmax);
    }
  }
}

bool weft_f32_max_pool2d_backward_2x2__avx2fma(const Pool2dShape& s, const float* gy, const int32_t* argmax,
                                               float* gx) {
  const int oh = s.outH(), ow = s.outW(), w = s.w;
  const long planes = static_cast<long>(s.n) * s.c;
  for (long p = 0; p < planes; ++p, gx += static_cast<long>(s.h) * w) {
    bool ok = true;
    for (int y = 0; y < oh; ++y, gy += ow, argmax += ow) {
      float* r0 = gx + 2 * y * w;
      if (ow >= 8) ok = maxBackwardRow<Ymm>(gy, argmax, w, ow, 2 * y * w, r0) && ok;
      else if (ow >= 4) ok = maxBackwardRow<Xmm>(gy, argmax, w, ow, 2 * y * w, r0) && ok;
      else ok = maxBackwardRowNarrow(gy, argmax, w, ow, 2 * y * w, r0) && ok;
    }
    if (!ok) return false;
    zeroUncovered(s, oh, ow, gx);
  }
  return true;
}

void weft_f32_avg_pool2d_2x2__avx2fma(const Pool2dShape& s, const float* x, float* out) {
  const int oh = s.outH(), ow = s.outW(), w = s.w;
  const long planes = static_cast<long>(s.n) * s.c;
  for (long p = 0; p < planes; ++p) {
    const float* plane = x + p * s.h * w;
    for (int y = 0; y < oh; ++y, out += ow) {
      const float* r0 = plane + 2 * y * w;
      if (ow >= 8) avgRow<Ymm>(r0, w, ow, out);
      else if (ow >= 4) avgRow<Xmm>(r0, w, ow, out);
      else for (int xo = 0; xo < ow; ++xo) out[xo] = (r0[2 * xo] + r0[2 * xo + 1] + r0[w + 2 * xo] + r0[w + 2 * xo + 1]) * 0.25f;
    }
  }
}

void weft_f32_avg_pool2d_backward_2x2__avx2fma(const Pool2dShape& s, const float* gy, float* gx) {
  const int oh = s.outH(), ow = s.outW(), w = s.w;
  const long planes = static_cast<long>(s.n) * s.c;
  for (long p = 0; p < planes; ++p, gx += static_cast<long>(s.h) * w) {
    for (int y = 0; y < oh; ++y, gy += ow) {
      float* r0 = gx + 2 * y * w;
      if (ow >= 8) avgBackwardRow<Ymm>(gy, w, ow, r0);
      else if (ow >= 4) avgBackwardRow<Xmm>(gy, w, ow, r0);
      else for (int xo = 0; xo < ow; ++xo) r0[2 * xo] = r0[2 * xo + 1] = r0[w + 2 * xo] = r0[w + 2 * xo + 1] = gy[xo] * 0.25f;
    }
    zeroUncovered(s, oh, ow, gx);
  }
}

}  // namespace weft
