// The blocked loop nest shared by the hardware bf16 paths (avx512bf16, amx), compiled into each
// one's file with its flags (internal linkage, as gemm-panels.h explains). The same order as the
// float32 driver (Note [gemm blocking] in f32-gemm/f32-gemm.h): column blocks of C, depth blocks
// with B's block packed once, row blocks with A's block packed, then every micro-tile. A and B
// arrive already rounded (bf16-gemm.cc); packing only moves 16-bit values into the layout the
// instructions read, with zeros past the edges, so a tail tile or an odd depth costs no special
// kernel: the zeros add nothing to the sums.
//
// The kernel type K provides
//   kMr, kNr               the micro-tile of C it accumulates (floats)
//   kDepthUnit             depth steps it consumes at once; a depth block is padded to a multiple
//   kMc, kKc, kNc          cache blocks (kMc a multiple of kMr, kNc of kNr, kKc of kDepthUnit)
//   aOffset(r, l)          where element (r, l) of a kMr-row panel goes, in 16-bit units
//   bOffset(l, j)          likewise for element (l, j) of a kNr-column panel
//   tile(depth, a, b, acc) acc[r * kNr + j] = sum over l < depth of a(r, l) * b(l, j)
//   Session                constructed before the first tile of a call, destroyed after the last
#pragma once
#include <cstring>

#include "bf16-gemm.h"
#include "kernels/f32-gemm/scratch.h"

namespace weft {
namespace {

inline int roundUpTo(int x, int unit) { return (x + unit - 1) / unit * unit; }
inline int smaller(int a, int b) { return a < b ? a : b; }

// Packs rows [0, rows) x depth [0, depth) of `a` into panels of K::kMr rows, each
// K::kMr * paddedDepth values long.
template <class K>
void packAPanelsBf16(Bf16View a, int rows, int depth, int paddedDepth, uint16_t* out) {
  const size_t panel = static_cast<size_t>(K::kMr) * paddedDepth;
  std::memset(out, 0, sizeof(uint16_t) * panel * ((rows + K::kMr - 1) / K::kMr));
  for (int i = 0; i < rows; ++i) {
    uint16_t* dst = out + (i / K::kMr) * panel;
    const uint16_t* src = a.data + i * a.rowStride;
    for (int l = 0; l < depth; ++l) dst[K::aOffset(i % K::kMr, l)] = src[l * a.colStride];
  }
}

// Packs depth [0, depth) x columns [0, cols) of `b` into panels of K::kNr columns.
template <class K>
void packBPanelsBf16(Bf16View b, int depth, int cols, int paddedDepth, uint16_t* out) {
  const size_t panel = static_cast<size_t>(K::kNr) * paddedDepth;
  std::memset(out, 0, sizeof(uint16_t) * panel * ((cols + K::kNr - 1) / K::kNr));
  for (int l = 0; l < depth; ++l) {
    const uint16_t* src = b.data + l * b.rowStride;
    for (int j = 0; j < cols; ++j) out[(j / K::kNr) * panel + K::bOffset(l, j % K::kNr)] = src[j * b.colStride];
  }
}

// C's rows x cols corner of a tile: alpha * acc + beta * C (beta == 0: C is not read).
template <class K>
void storeTile(const float* acc, int rows, int cols, float alpha, float beta, float* c, ptrdiff_t ldc) {
  for (int r = 0; r < rows; ++r) {
    float* row = c + r * ldc;
    const float* sum = acc + r * K::kNr;
    if (beta == 0.0f) for (int j = 0; j < cols; ++j) row[j] = alpha * sum[j];
    else for (int j = 0; j < cols; ++j) row[j] = alpha * sum[j] + beta * row[j];
  }
}

template <class K>
void bf16GemmTiled(const Bf16GemmCall& x) {
  const int kcMax = roundUpTo(smaller(x.k, K::kKc), K::kDepthUnit);
  const size_t countA = static_cast<size_t>(roundUpTo(smaller(x.m, K::kMc), K::kMr)) * kcMax;
  const size_t countB = static_cast<size_t>(roundUpTo(smaller(x.n, K::kNc), K::kNr)) * kcMax;
  // Scratch, not std::vector: a library template instantiated here would be compiled with this
  // file's -m flags, and the linker may keep that copy for baseline callers too.
  uint16_t* packedA = static_cast<uint16_t*>(scratchBytes(ScratchSlot::Bf16PackedA, countA * sizeof(uint16_t)));
  uint16_t* packedB = static_cast<uint16_t*>(scratchBytes(ScratchSlot::Bf16PackedB, countB * sizeof(uint16_t)));
  alignas(64) float acc[K::kMr * K::kNr];
  typename K::Session session;
  for (int jc = 0; jc < x.n; jc += K::kNc) {
    const int nc = smaller(K::kNc, x.n - jc);
    for (int pc = 0; pc < x.k; pc += K::kKc) {
      const int kc = smaller(K::kKc, x.k - pc), padded = roundUpTo(kc, K::kDepthUnit);
      packBPanelsBf16<K>({x.b.data + pc * x.b.rowStride + jc * x.b.colStride, x.b.rowStride, x.b.colStride}, kc, nc,
                         padded, packedB);
      // Later depth blocks add to what the first one wrote.
      const float betaNow = pc == 0 ? x.beta : 1.0f;
      for (int ic = 0; ic < x.m; ic += K::kMc) {
        const int mc = smaller(K::kMc, x.m - ic);
        packAPanelsBf16<K>({x.a.data + ic * x.a.rowStride + pc * x.a.colStride, x.a.rowStride, x.a.colStride}, mc, kc,
                           padded, packedA);
        for (int jr = 0; jr < nc; jr += K::kNr) {
          const uint16_t* bPanel = packedB + static_cast<size_t>(jr) * padded;
          for (int ir = 0; ir < mc; ir += K::kMr) {
            K::tile(padded, packedA + static_cast<size_t>(ir) * padded, bPanel, acc);
            storeTile<K>(acc, smaller(K::kMr, mc - ir), smaller(K::kNr, nc - jr), x.alpha, betaNow,
                         x.c + (ic + ir) * x.ldc + jc + jr, x.ldc);
          }
        }
        // This block of C is final once the last depth block is in (Note [gemm epilogue]).
        if (x.epilogue && pc + kc == x.k) applyGemmEpilogue(*x.epilogue, ic, jc, mc, nc, x.c, x.ldc);
      }
    }
  }
}

}  // namespace
}  // namespace weft
