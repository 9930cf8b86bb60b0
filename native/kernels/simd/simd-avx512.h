// The 16-lane AVX-512 vector of floats: a line-for-line mirror of simd-avx2fma.h (which the tests
// run) with mask registers for the tails and comparisons. See Note [one body, three ISAs] in
// simd-scalar.h.
#pragma once
// The namespace the kernel bodies (*-impl.inc) are compiled into for this ISA.
#define WEFT_ISA avx512
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics build "undefined" registers as `__m512 __Y = __Y;`, which its own
// uninitialised-use analysis then reports wherever they are inlined (GCC bug 105593). The
// warnings are about the compiler's headers, not this code, and would bury real ones; they are
// silenced for the rest of each AVX-512 translation unit (which includes this header first).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <cstdint>

namespace weft {
namespace avx512 {

constexpr int kLanes = 16;

struct Vec {
  __m512 v;
};
struct Mask {
  __mmask16 m;
};

inline Vec splat(float x) { return {_mm512_set1_ps(x)}; }
inline Vec load(const float* p) { return {_mm512_loadu_ps(p)}; }
inline void store(float* p, Vec x) { _mm512_storeu_ps(p, x.v); }

inline __mmask16 tailMask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
inline Vec loadTail(const float* p, int n, float fill) {
  return {_mm512_mask_loadu_ps(_mm512_set1_ps(fill), tailMask(n), p)};
}
inline void storeTail(float* p, Vec x, int n) { _mm512_mask_storeu_ps(p, tailMask(n), x.v); }

inline Vec operator+(Vec a, Vec b) { return {_mm512_add_ps(a.v, b.v)}; }
inline Vec operator-(Vec a, Vec b) { return {_mm512_sub_ps(a.v, b.v)}; }
inline Vec operator*(Vec a, Vec b) { return {_mm512_mul_ps(a.v, b.v)}; }
inline Vec operator/(Vec a, Vec b) { return {_mm512_div_ps(a.v, b.v)}; }
inline Vec operator-(Vec a) { return {_mm512_xor_ps(a.v, _mm512_set1_ps(-0.0f))}; }
inline Vec fma(Vec a, Vec b, Vec c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
inline Vec fnma(Vec a, Vec b, Vec c) { return {_mm512_fnmadd_ps(a.v, b.v, c.v)}; }
inline Vec vsqrt(Vec a) { return {_mm512_sqrt_ps(a.v)}; }
inline Vec vabs(Vec a) { return {_mm512_abs_ps(a.v)}; }

inline Mask operator>(Vec a, Vec b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ)}; }
inline Mask operator<(Vec a, Vec b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ)}; }
inline Mask operator==(Vec a, Vec b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_EQ_OQ)}; }
inline Mask isNan(Vec a) { return {_mm512_cmp_ps_mask(a.v, a.v, _CMP_UNORD_Q)}; }
inline bool any(Mask m) { return m.m != 0; }
inline Vec select(Mask m, Vec ifTrue, Vec ifFalse) { return {_mm512_mask_blend_ps(m.m, ifFalse.v, ifTrue.v)}; }
inline Vec selectOrZero(Mask m, Vec ifTrue) { return {_mm512_maskz_mov_ps(m.m, ifTrue.v)}; }

inline Vec vmax(Vec a, Vec b) { return {_mm512_mask_blend_ps(isNan(a).m, _mm512_max_ps(a.v, b.v), a.v)}; }
inline Vec vmin(Vec a, Vec b) { return {_mm512_mask_blend_ps(isNan(a).m, _mm512_min_ps(a.v, b.v), a.v)}; }
inline Vec vrelu(Vec x) { return {_mm512_max_ps(_mm512_setzero_ps(), x.v)}; }

// x limited to [lo, hi], NaN kept (maxps/minps return their second operand when one is NaN).
inline Vec clamp(Vec x, Vec lo, Vec hi) { return {_mm512_min_ps(hi.v, _mm512_max_ps(lo.v, x.v))}; }

inline float hsum(Vec a) { return _mm512_reduce_add_ps(a.v); }

struct SquaresAcc {
  __m512d lo = _mm512_setzero_pd();
  __m512d hi = _mm512_setzero_pd();
};
inline void addSquares(SquaresAcc& acc, Vec x) {
  const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(x.v));
  const __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(x.v, 1));
  acc.lo = _mm512_fmadd_pd(lo, lo, acc.lo);
  acc.hi = _mm512_fmadd_pd(hi, hi, acc.hi);
}
inline double total(const SquaresAcc& acc) { return _mm512_reduce_add_pd(_mm512_add_pd(acc.lo, acc.hi)); }

struct VecI {
  __m512i v;
};
inline VecI roundToInt(Vec a) { return {_mm512_cvtps_epi32(a.v)}; }
inline Vec toFloat(VecI a) { return {_mm512_cvtepi32_ps(a.v)}; }
inline Vec vround(Vec a) { return {_mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
inline Vec pow2i(VecI n) {
  return {_mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n.v, _mm512_set1_epi32(127)), 23))};
}
inline VecI shiftRightArith1(VecI n) { return {_mm512_srai_epi32(n.v, 1)}; }
inline VecI operator-(VecI a, VecI b) { return {_mm512_sub_epi32(a.v, b.v)}; }
inline Vec frexpMantissa(Vec x) {
  const __m512i bits = _mm512_castps_si512(x.v);
  return {_mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)),
                                              _mm512_set1_epi32(0x3f000000)))};
}
inline Vec frexpExponent(Vec x) {
  const __m512i bits = _mm512_castps_si512(x.v);
  return toFloat({_mm512_sub_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(126))});
}

#include "simd-math.inc"
#include "simd-transpose-avx.inc"
#include "simd-loops.inc"

}  // namespace avx512
}  // namespace weft
