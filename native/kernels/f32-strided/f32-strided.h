// Copies out of, and accumulations into, strided views: the data movement behind reshapes of
// non-contiguous tensors, transposes, broadcasts and their gradients.
#pragma once
#include <cstdint>

#include "kernels/isa-table.h"

namespace weft {

struct F32StridedKernels {
  // out[i] = x[i * sx] for i < n (sx == 1 copies, sx == 0 fills).
  void (*copyRow)(const float* x, int64_t sx, float* out, int64_t n);
  // dst[i * sd] += src[i] for i < n (sd == 1 adds vectors, sd == 0 adds the row's sum).
  void (*accumulateRow)(const float* src, float* dst, int64_t sd, int64_t n);
  // out[i * cols + j] = x[i + j * sx]: a 2-D transpose read from a view whose rows are contiguous.
  void (*copyTransposed)(const float* x, int64_t sx, float* out, int64_t rows, int64_t cols);
  // dst[i + j * sd] += src[i * cols + j]: the same transpose, accumulated into the view.
  void (*accumulateTransposed)(const float* src, float* dst, int64_t sd, int64_t rows, int64_t cols);
};

WEFT_ISA_TABLE(F32StridedKernels, f32StridedRows)

// out (contiguous, `shape`) = the strided view of x; rank <= kMaxRank.
void f32CopyStrided(const float* x, const int64_t* xStrides, float* out, const int32_t* shape, int rank);
// dst[view index of i] += src[i] over the contiguous `shape`; rank <= kMaxRank.
void f32AccumulateStrided(const float* src, const int32_t* shape, float* dst, const int64_t* dstStrides, int rank);

}  // namespace weft
