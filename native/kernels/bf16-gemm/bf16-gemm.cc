// The bf16 GEMM's entry point: rounds A and B to bf16 once, then runs the active path (Note [bf16
// gemm paths] in bf16-gemm.h). Rounding uses the wire conversions (wire-convert.h), whose
// vector loops are tested bit for bit against the scalar rounding.
#include "bf16-gemm.h"

#include <vector>

#include "kernels/wire-convert/wire-convert.h"

namespace weft {

namespace {

// Kept per thread and grown to the largest operand seen, as scratch.h does for the packed
// panels, so a training loop allocates only in its first step.
thread_local std::vector<uint16_t> roundedA, roundedB;
thread_local std::vector<float> widenedA, widenedB;

// The rows x cols operand `v` rounded to bf16 into `out`, stored as `v` is stored (row by row,
// or for a transposed view column by column) but without the gap of a leading dimension.
Bf16View roundOperand(MatrixView v, int rows, int cols, std::vector<uint16_t>& out) {
  const bool byRows = v.colStride == 1;
  const int lines = byRows ? rows : cols, length = byRows ? cols : rows;
  const ptrdiff_t lineStride = byRows ? v.rowStride : v.colStride;
  out.resize(static_cast<size_t>(lines) * length);
  for (int i = 0; i < lines; ++i) {
    wireConvert().pack(WireKind::Bf16, v.data + i * lineStride, out.data() + static_cast<size_t>(i) * length, length);
  }
  return byRows ? Bf16View{out.data(), length, 1} : Bf16View{out.data(), 1, length};
}

// The same values widened back to float32 (exactly), for the emulated path.
MatrixView widen(Bf16View v, size_t count, std::vector<float>& out) {
  out.resize(count);
  wireConvert().unpack(WireKind::Bf16, v.data, out.data(), static_cast<int64_t>(count));
  return {out.data(), v.rowStride, v.colStride};
}

}  // namespace

void weft_bf16_gemm(bool transA, bool transB, int m, int n, int k, float alpha, const float* a, int lda,
                    const float* b, int ldb, float beta, float* c, int ldc, const GemmEpilogue* epilogue) {
  MatrixView av = transA ? MatrixView{a, 1, lda} : MatrixView{a, lda, 1};
  MatrixView bv = transB ? MatrixView{b, 1, ldb} : MatrixView{b, ldb, 1};
  if (m <= 0 || n <= 0 || k <= 0 || alpha == 0.0f) {
    // Nothing is multiplied: the float32 driver's degenerate case (C scaled, epilogue applied).
    gemmStrided(activeGemmKernels(), av, bv, m, n, k, alpha, beta, c, ldc, epilogue);
    return;
  }
  const Bf16View ah = roundOperand(av, m, k, roundedA), bh = roundOperand(bv, k, n, roundedB);
  switch (activeBf16Path()) {
    case Bf16Path::Amx: return weft_bf16_gemm__amx({ah, bh, m, n, k, alpha, beta, c, ldc, epilogue});
    case Bf16Path::Avx512Bf16: return weft_bf16_gemm__avx512bf16({ah, bh, m, n, k, alpha, beta, c, ldc, epilogue});
    case Bf16Path::DotLayout: return weft_bf16_gemm__dot_layout({ah, bh, m, n, k, alpha, beta, c, ldc, epilogue});
    case Bf16Path::TileLayout: return weft_bf16_gemm__tile_layout({ah, bh, m, n, k, alpha, beta, c, ldc, epilogue});
    default: {
      const size_t countA = static_cast<size_t>(m) * k, countB = static_cast<size_t>(k) * n;
      gemmStrided(activeGemmKernels(), widen(ah, countA, widenedA), widen(bh, countB, widenedB), m, n, k, alpha, beta, c,
                  ldc, epilogue);
    }
  }
}

}  // namespace weft
