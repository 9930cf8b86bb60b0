// The one-lane "vector" of the scalar ISA: the same vocabulary as simd-avx2fma.h over a plain
// float, with libm for the transcendental functions (float64 erfc for the normal CDF).
//
// Note [one body, three ISAs]
// Each kernel family is written once, in a *-impl.inc file, against the vocabulary defined here
// (Vec, load, store, fma, select, vexp, map1, fold1, ...). A per-ISA file (three lines) includes
// the matching simd-<isa>.h, which defines WEFT_ISA, then the .inc, which compiles the kernels
// into the namespace weft::WEFT_ISA and exports their table of function pointers as
// <family>__<isa> (isa-table.h picks one at run time). The namespace is not decoration: functions
// with the same name compiled with different -m flags must not be merged by the linker, or a
// scalar caller could end up running AVX-512 code. So .inc files define only functions and
// templates, and call nothing from std:: that could be instantiated once per ISA. With
// kLanes == 1 the same loops are the scalar path that every machine runs.
#pragma once
// The namespace the kernel bodies (*-impl.inc) are compiled into for this ISA.
#define WEFT_ISA scalar
#include <cmath>
#include <cstdint>

namespace weft {
namespace scalar {

constexpr int kLanes = 1;

struct Vec {
  float v;
};
struct Mask {
  bool m;
};

inline Vec splat(float x) { return {x}; }
inline Vec load(const float* p) { return {*p}; }
inline void store(float* p, Vec x) { *p = x.v; }
// With one lane there is never a tail; these exist so that the shared loops compile.
inline Vec loadTail(const float* p, int n, float fill) { return {n > 0 ? *p : fill}; }
inline void storeTail(float* p, Vec x, int n) {
  if (n > 0) *p = x.v;
}

inline Vec operator+(Vec a, Vec b) { return {a.v + b.v}; }
inline Vec operator-(Vec a, Vec b) { return {a.v - b.v}; }
inline Vec operator*(Vec a, Vec b) { return {a.v * b.v}; }
inline Vec operator/(Vec a, Vec b) { return {a.v / b.v}; }
inline Vec operator-(Vec a) { return {-a.v}; }
// In float64 rather than std::fma: baseline x86-64 has no FMA instruction, and libm's exact
// software fma is ~20x slower. The float64 product of two floats is exact, so this rounds like a
// true fma except in rare double-rounding ties; a float multiply-add would instead lose the
// cancellation in forms like 1 - y*y (tanh's gradient near saturation).
inline Vec fma(Vec a, Vec b, Vec c) {
  return {static_cast<float>(static_cast<double>(a.v) * b.v + c.v)};
}
inline Vec fnma(Vec a, Vec b, Vec c) {
  return {static_cast<float>(c.v - static_cast<double>(a.v) * b.v)};
}
inline Vec vsqrt(Vec a) { return {std::sqrt(a.v)}; }
inline Vec vabs(Vec a) { return {std::fabs(a.v)}; }

inline Mask operator>(Vec a, Vec b) { return {a.v > b.v}; }
inline Mask operator<(Vec a, Vec b) { return {a.v < b.v}; }
inline Mask operator==(Vec a, Vec b) { return {a.v == b.v}; }
inline Mask isNan(Vec a) { return {a.v != a.v}; }
inline bool any(Mask m) { return m.m; }
inline Vec select(Mask m, Vec ifTrue, Vec ifFalse) { return m.m ? ifTrue : ifFalse; }
inline Vec selectOrZero(Mask m, Vec ifTrue) { return {m.m ? ifTrue.v : 0.0f}; }

inline Vec vmax(Vec a, Vec b) { return {(a.v != a.v || a.v > b.v) ? a.v : b.v}; }
inline Vec vmin(Vec a, Vec b) { return {(a.v != a.v || a.v < b.v) ? a.v : b.v}; }
inline Vec vrelu(Vec x) { return {x.v > 0.0f ? x.v : (x.v != x.v ? x.v : 0.0f)}; }

inline Vec clamp(Vec x, Vec lo, Vec hi) { return {x.v < lo.v ? lo.v : x.v > hi.v ? hi.v : x.v}; }

inline float hsum(Vec a) { return a.v; }

struct SquaresAcc {
  double sum = 0.0;
};
inline void addSquares(SquaresAcc& acc, Vec x) { acc.sum += static_cast<double>(x.v) * x.v; }
inline double total(const SquaresAcc& acc) { return acc.sum; }

// dst[j * dstStride + i] = src[i * srcStride + j] for i, j < 8 (and the accumulating form), as
// simd-transpose-avx.inc does with shuffles.
inline void transpose8x8(const float* src, int64_t srcStride, float* dst, int64_t dstStride) {
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 8; j++) dst[j * dstStride + i] = src[i * srcStride + j];
}
inline void transpose8x8Add(const float* src, int64_t srcStride, float* dst, int64_t dstStride) {
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 8; j++) dst[j * dstStride + i] += src[i * srcStride + j];
}

inline Vec vexp(Vec x) { return {std::exp(x.v)}; }
inline Vec vlog(Vec x) { return {std::log(x.v)}; }
inline Vec vtanh(Vec x) { return {std::tanh(x.v)}; }
inline Vec vsigmoid(Vec x) { return {1.0f / (1.0f + std::exp(-x.v))}; }
// Φ(x) and φ(x) in float64 (Note [normal CDF and density from one exp] has the vector form).
struct NormalCdfPdf {
  Vec cdf, pdf;
};
inline NormalCdfPdf vnormal(Vec x) {
  const double v = x.v;
  return {{static_cast<float>(0.5 * std::erfc(-v * 0.70710678118654752))},
          {static_cast<float>(0.3989422804014327 * std::exp(-0.5 * v * v))}};
}

#include "simd-loops.inc"

}  // namespace scalar
}  // namespace weft
