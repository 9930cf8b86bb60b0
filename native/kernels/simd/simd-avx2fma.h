// The 8-lane AVX2+FMA vector of floats behind the pointwise kernels. The kernels themselves are
// written once (the *-impl.inc files) against this small vocabulary, and compiled once per ISA
// inside that ISA's namespace; see Note [one body, three ISAs] in simd-scalar.h.
#pragma once
// The namespace the kernel bodies (*-impl.inc) are compiled into for this ISA.
#define WEFT_ISA avx2fma
#include <immintrin.h>

#include <cstdint>

namespace weft {
namespace avx2fma {

constexpr int kLanes = 8;

struct Vec {
  __m256 v;
};
struct Mask {
  __m256 m;
};

inline Vec splat(float x) { return {_mm256_set1_ps(x)}; }
inline Vec load(const float* p) { return {_mm256_loadu_ps(p)}; }
inline void store(float* p, Vec x) { _mm256_storeu_ps(p, x.v); }

// Lanes [0, n) are live, for the tail of a row (0 < n < kLanes).
inline __m256i tailMask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
// Loads lanes [0, n) and sets the others to `fill` (the identity of whatever consumes them).
inline Vec loadTail(const float* p, int n, float fill) {
  const __m256i live = tailMask(n);
  return {_mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, live), _mm256_castsi256_ps(live))};
}
inline void storeTail(float* p, Vec x, int n) { _mm256_maskstore_ps(p, tailMask(n), x.v); }

inline Vec operator+(Vec a, Vec b) { return {_mm256_add_ps(a.v, b.v)}; }
inline Vec operator-(Vec a, Vec b) { return {_mm256_sub_ps(a.v, b.v)}; }
inline Vec operator*(Vec a, Vec b) { return {_mm256_mul_ps(a.v, b.v)}; }
inline Vec operator/(Vec a, Vec b) { return {_mm256_div_ps(a.v, b.v)}; }
inline Vec operator-(Vec a) { return {_mm256_xor_ps(a.v, _mm256_set1_ps(-0.0f))}; }
// a * b + c with one rounding.
inline Vec fma(Vec a, Vec b, Vec c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
// c - a * b with one rounding.
inline Vec fnma(Vec a, Vec b, Vec c) { return {_mm256_fnmadd_ps(a.v, b.v, c.v)}; }
inline Vec vsqrt(Vec a) { return {_mm256_sqrt_ps(a.v)}; }
inline Vec vabs(Vec a) { return {_mm256_andnot_ps(_mm256_set1_ps(-0.0f), a.v)}; }

inline Mask operator>(Vec a, Vec b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)}; }
inline Mask operator<(Vec a, Vec b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
inline Mask operator==(Vec a, Vec b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ)}; }
inline Mask isNan(Vec a) { return {_mm256_cmp_ps(a.v, a.v, _CMP_UNORD_Q)}; }
inline bool any(Mask m) { return _mm256_movemask_ps(m.m) != 0; }
inline Vec select(Mask m, Vec ifTrue, Vec ifFalse) { return {_mm256_blendv_ps(ifFalse.v, ifTrue.v, m.m)}; }
// ifTrue where m, else +0.
inline Vec selectOrZero(Mask m, Vec ifTrue) { return {_mm256_and_ps(m.m, ifTrue.v)}; }

// max/min that return NaN when either side is NaN (maxps alone returns its second operand then).
inline Vec vmax(Vec a, Vec b) { return {_mm256_blendv_ps(_mm256_max_ps(a.v, b.v), a.v, isNan(a).m)}; }
inline Vec vmin(Vec a, Vec b) { return {_mm256_blendv_ps(_mm256_min_ps(a.v, b.v), a.v, isNan(a).m)}; }
// max(x, 0), NaN kept: maxps returns its second operand, x, when x is NaN.
inline Vec vrelu(Vec x) { return {_mm256_max_ps(_mm256_setzero_ps(), x.v)}; }

// x limited to [lo, hi], NaN kept (maxps/minps return their second operand when one is NaN).
inline Vec clamp(Vec x, Vec lo, Vec hi) { return {_mm256_min_ps(hi.v, _mm256_max_ps(lo.v, x.v))}; }

inline float hsum(Vec a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// sum(x²) of one vector, added to two float64 accumulators (low and high halves).
struct SquaresAcc {
  __m256d lo = _mm256_setzero_pd();
  __m256d hi = _mm256_setzero_pd();
};
inline void addSquares(SquaresAcc& acc, Vec x) {
  const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(x.v));
  const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(x.v, 1));
  acc.lo = _mm256_fmadd_pd(lo, lo, acc.lo);
  acc.hi = _mm256_fmadd_pd(hi, hi, acc.hi);
}
inline double total(const SquaresAcc& acc) {
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(acc.lo, acc.hi));
  return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}

// ---- bit-level helpers for the transcendental functions (simd-math.inc) ----------------------
struct VecI {
  __m256i v;
};
inline VecI roundToInt(Vec a) { return {_mm256_cvtps_epi32(a.v)}; }
inline Vec toFloat(VecI a) { return {_mm256_cvtepi32_ps(a.v)}; }
inline Vec vround(Vec a) { return {_mm256_round_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
// 2^n for n in [-126, 127], built in the exponent field.
inline Vec pow2i(VecI n) {
  return {_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n.v, _mm256_set1_epi32(127)), 23))};
}
inline VecI shiftRightArith1(VecI n) { return {_mm256_srai_epi32(n.v, 1)}; }
inline VecI operator-(VecI a, VecI b) { return {_mm256_sub_epi32(a.v, b.v)}; }
// Splits a positive normal x into mantissa m in [0.5, 1) and exponent e with x = m * 2^e.
inline Vec frexpMantissa(Vec x) {
  const __m256i bits = _mm256_castps_si256(x.v);
  return {_mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)),
                                              _mm256_set1_epi32(0x3f000000)))};
}
inline Vec frexpExponent(Vec x) {
  const __m256i bits = _mm256_castps_si256(x.v);
  return toFloat({_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126))});
}

#include "simd-math.inc"
#include "simd-transpose-avx.inc"
#include "simd-loops.inc"

}  // namespace avx2fma
}  // namespace weft
