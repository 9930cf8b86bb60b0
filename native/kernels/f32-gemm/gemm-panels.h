// Packing and the macro-kernel, written once over the micro-tile shape and compiled by each ISA
// file (-scalar/-avx2fma/-avx512.cc) with its own flags and micro-kernel (Note [gemm blocking]).
//
// Everything here has internal linkage on purpose: the files including it are built with
// different -m flags, and a shared inline function would let the linker keep, say, the AVX-512
// copy for every caller. For the same reason it uses no <algorithm> templates.
#pragma once
#include <cstddef>
#include <cstring>

#include "f32-gemm.h"

namespace weft {
namespace {

inline int minInt(int a, int b) { return a < b ? a : b; }

// See GemmKernels::packA. Row-major A (colStride 1) is read from mr rows side by side; a
// transposed A (rowStride 1) copies mr consecutive floats per depth step.
template <int MR>
void packAPanels(MatrixView a, int m, int k, size_t panelStride, float* out) {
  int i0 = 0;
  if (a.rowStride == 1 && a.colStride != 1) {
    // Transposed A (a weight gradient's g^T, g stored (tokens, out)): whole panels stored row by
    // row, so that each long stored row is read once, in order, rather than mr floats of it per
    // pass over the depth. The MR-float copy has a constant length, so it becomes vector moves.
    const int full = m / MR * MR;
    for (int l = 0; l < k; ++l) {
      const float* src = a.data + l * a.colStride;
      float* dst = out + l * MR;
      for (int i = 0; i < full; i += MR, dst += panelStride) std::memcpy(dst, src + i, sizeof(float) * MR);
    }
    i0 = full;
  }
  for (; i0 < m; i0 += MR) {
    const int rows = minInt(MR, m - i0);
    float* panel = out + static_cast<size_t>(i0 / MR) * panelStride;
    if (a.colStride == 1) {
      const float* src[MR];
      for (int r = 0; r < rows; ++r) src[r] = a.data + (i0 + r) * a.rowStride;
      for (int l = 0; l < k; ++l) {
        float* dst = panel + l * MR;
        for (int r = 0; r < rows; ++r) dst[r] = src[r][l];
        for (int r = rows; r < MR; ++r) dst[r] = 0.0f;
      }
    } else {
      for (int l = 0; l < k; ++l) {
        const float* src = a.data + l * a.colStride + i0 * a.rowStride;
        float* dst = panel + l * MR;
        for (int r = 0; r < rows; ++r) dst[r] = src[r * a.rowStride];
        for (int r = rows; r < MR; ++r) dst[r] = 0.0f;
      }
    }
  }
}

// See GemmKernels::packB. Row-major B (colStride 1) copies nr consecutive floats per depth step;
// a transposed B (rowStride 1) reads each of the nr columns in order.
template <int NR>
void packBPanels(MatrixView b, int k, int n, float* out) {
  int j0 = 0;
  if (b.colStride == 1) {
    // Whole panels row by row, so that a long stored row (activations of (tokens, features)) is
    // read once, in order, rather than one panel's width of it per pass.
    const int full = n / NR * NR;
    for (int l = 0; l < k; ++l) {
      const float* src = b.data + l * b.rowStride;
      for (int j = 0; j < full; j += NR) std::memcpy(out + static_cast<size_t>(j) * k + l * NR, src + j, sizeof(float) * NR);
    }
    j0 = full;
  }
  for (; j0 < n; j0 += NR) {
    const int cols = minInt(NR, n - j0);
    float* panel = out + static_cast<size_t>(j0) * k;
    if (b.colStride == 1) {
      for (int l = 0; l < k; ++l) {
        const float* src = b.data + l * b.rowStride + j0;
        float* dst = panel + l * NR;
        if (cols == NR) {
          std::memcpy(dst, src, sizeof(float) * NR);  // (a loop here is not vectorised: src may alias dst)
        } else {
          for (int j = 0; j < cols; ++j) dst[j] = src[j];
          for (int j = cols; j < NR; ++j) dst[j] = 0.0f;
        }
      }
    } else {
      for (int j = 0; j < cols; ++j) {
        const float* src = b.data + (j0 + j) * b.colStride;
        for (int l = 0; l < k; ++l) panel[l * NR + j] = src[l * b.rowStride];
      }
      for (int j = cols; j < NR; ++j) for (int l = 0; l < k; ++l) panel[l * NR + j] = 0.0f;
    }
  }
}

// A micro-kernel: c[0..MR) x [0..NR) (row stride ldc) = alpha * panelA * panelB + beta * c, where
// the panels are k deep; beta == 0 must not read c.
using MicroKernel = void (*)(int k, const float* panelA, const float* panelB, float* c, ptrdiff_t ldc, float alpha,
                             float beta);

// See GemmKernels::macroKernel. Column panels outermost, so one B panel (k x nr) stays in L1
// while the A panels stream past it from L2. Edge tiles are computed whole into a small buffer
// (the packed zeros make that safe) and only their valid part is merged into C.
template <int MR, int NR, MicroKernel Micro>
void macroKernel(int m, int n, int k, float alpha, const float* packedA, const float* packedB, float beta, float* c,
                 ptrdiff_t ldc) {
  alignas(64) float tile[MR * NR];
  for (int j0 = 0; j0 < n; j0 += NR) {
    const int cols = minInt(NR, n - j0);
    const float* panelB = packedB + static_cast<size_t>(j0) * k;
    for (int i0 = 0; i0 < m; i0 += MR) {
      const int rows = minInt(MR, m - i0);
      const float* panelA = packedA + static_cast<size_t>(i0) * k;
      float* ct = c + i0 * ldc + j0;
      if (rows == MR && cols == NR) {
        Micro(k, panelA, panelB, ct, ldc, alpha, beta);
        continue;
      }
      // (alpha is applied here, not by Micro: a plain copy loop would become a call to memcpy,
      // whose start-up costs more than these few floats.)
      Micro(k, panelA, panelB, tile, NR, 1.0f, 0.0f);
      for (int r = 0; r < rows; ++r) {
        float* dst = ct + r * ldc;
        const float* src = tile + r * NR;
        if (beta == 0.0f) for (int j = 0; j < cols; ++j) dst[j] = alpha * src[j];
        else for (int j = 0; j < cols; ++j) dst[j] = alpha * src[j] + beta * dst[j];
      }
    }
  }
}

}  // namespace
}  // namespace weft
