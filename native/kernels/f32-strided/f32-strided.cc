// Drivers of copyStrided and accumulateStrided: collapse the shape, then run the ISA's row kernel
// per row, or its transpose kernel per 2-D plane when the strided side is a transpose (its
// innermost axis strided, the one before contiguous): see Note [transposed tiles] in
// f32-strided-impl.inc.
#include "kernels/f32-strided/f32-strided.h"

#include "kernels/f32-strided/strided-loop.h"

namespace weft {

namespace {

bool isEmpty(const int32_t* shape, int rank) {
  for (int d = 0; d < rank; d++) if (shape[d] == 0) return true;
  return false;
}

// True when operand k is a transpose in its last two axes, and the plane is big enough for 8 x 8
// blocks to pay.
template <int K>
bool isTransposed(const StridedLoop<K>& loop, int k) {
  return loop.rank >= 2 && loop.strides[k][loop.rank - 1] > 1 && loop.strides[k][loop.rank - 2] == 1 &&
         loop.inner() >= 8 && loop.shape[loop.rank - 2] >= 8;
}

// Collapses the loop over `shape` for one strided operand and the contiguous side, then calls
// plane(stridedAt, contiguousAt, innerStride, rows, cols) per 2-D plane when the strided side is a
// transpose, else row(stridedAt, contiguousAt, innerStride, n) per row.
template <class Plane, class Row>
void walkStrided(const int64_t* strides, const int32_t* shape, int rank, Plane plane, Row row) {
  if (isEmpty(shape, rank)) return;
  int64_t contiguous[kMaxRank];
  contiguousStrides(rank, shape, contiguous);
  const int64_t* const operands[2] = {strides, contiguous};
  const StridedLoop<2> loop = collapse<2>(rank, shape, operands);
  const int64_t n = loop.inner();
  const int64_t s = loop.innerStride(0);
  if (isTransposed(loop, 0)) {
    const int64_t rows = loop.shape[loop.rank - 2];
    forEachRow(loop, [&](const int64_t* at) { plane(at[0], at[1], s, rows, n); }, 2);
  } else {
    forEachRow(loop, [&](const int64_t* at) { row(at[0], at[1], s, n); });
  }
}

}  // namespace

void f32CopyStrided(const float* x, const int64_t* xStrides, float* out, const int32_t* shape, int rank) {
  const F32StridedKernels& k = f32StridedRows();
  walkStrided(
      xStrides, shape, rank,
      [&](int64_t at, int64_t o, int64_t s, int64_t rows, int64_t n) { k.copyTransposed(x + at, s, out + o, rows, n); },
      [&](int64_t at, int64_t o, int64_t s, int64_t n) { k.copyRow(x + at, s, out + o, n); });
}

void f32AccumulateStrided(const float* src, const int32_t* shape, float* dst, const int64_t* dstStrides, int rank) {
  const F32StridedKernels& k = f32StridedRows();
  walkStrided(
      dstStrides, shape, rank,
      [&](int64_t at, int64_t o, int64_t s, int64_t rows, int64_t n) {
        k.accumulateTransposed(src + o, dst + at, s, rows, n);
      },
      [&](int64_t at, int64_t o, int64_t s, int64_t n) { k.accumulateRow(src + o, dst + at, s, n); });
}

}  // namespace weft
