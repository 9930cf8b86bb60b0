// Drivers of copyStrided and accumulateStrided: collapse the shape, then run the ISA's row kernel
// per row. Note [transposed tiles]: when the strided side's innermost axis is not contiguous but
// the axis before it is (a 2-D transpose, e.g. x.T.contiguous()), row-by-row access would touch a
// new cache line per element on that side; walking 32 x 32 tiles keeps both sides in L1.
#include "kernels/f32-strided/f32-strided.h"

#include "kernels/f32-strided/strided-loop.h"

namespace weft {

namespace {

constexpr int64_t kTile = 32;

bool isEmpty(const int32_t* shape, int rank) {
  for (int d = 0; d < rank; d++) if (shape[d] == 0) return true;
  return false;
}

// True when operand k of the loop is a transpose in its last two axes: see Note [transposed tiles].
template <int K>
bool isTransposed(const StridedLoop<K>& loop, int k) {
  return loop.rank >= 2 && loop.strides[k][loop.rank - 1] > 1 && loop.strides[k][loop.rank - 2] == 1 &&
         loop.inner() >= kTile;
}

// Visits the (rows, cols) plane in kTile x kTile tiles; element(i, j) does the work.
template <class Element>
void forEachInTiles(int64_t rows, int64_t cols, Element element) {
  for (int64_t i0 = 0; i0 < rows; i0 += kTile) {
    const int64_t i1 = i0 + kTile < rows ? i0 + kTile : rows;
    for (int64_t j0 = 0; j0 < cols; j0 += kTile) {
      const int64_t j1 = j0 + kTile < cols ? j0 + kTile : cols;
      for (int64_t i = i0; i < i1; i++)
        for (int64_t j = j0; j < j1; j++) element(i, j);
    }
  }
}

}  // namespace

void f32CopyStrided(const float* x, const int64_t* xStrides, float* out, const int32_t* shape, int rank) {
  if (isEmpty(shape, rank)) return;
  int64_t outStrides[kMaxRank];
  contiguousStrides(rank, shape, outStrides);
  const int64_t* const strides[2] = {xStrides, outStrides};
  const StridedLoop<2> loop = collapse<2>(rank, shape, strides);
  const int64_t n = loop.inner();
  if (isTransposed(loop, 0)) {
    const int64_t rows = loop.shape[loop.rank - 2];
    const int64_t sx = loop.innerStride(0);
    forEachRow(loop, [&](const int64_t* at) {
      const float* xb = x + at[0];
      float* ob = out + at[1];
      forEachInTiles(rows, n, [&](int64_t i, int64_t j) { ob[i * n + j] = xb[i + j * sx]; });
    }, 2);
    return;
  }
  const auto copyRow = f32StridedRows().copyRow;
  const int64_t sx = loop.innerStride(0);
  forEachRow(loop, [&](const int64_t* at) { copyRow(x + at[0], sx, out + at[1], n); });
}

void f32AccumulateStrided(const float* src, const int32_t* shape, float* dst, const int64_t* dstStrides, int rank) {
  if (isEmpty(shape, rank)) return;
  int64_t srcStrides[kMaxRank];
  contiguousStrides(rank, shape, srcStrides);
  const int64_t* const strides[2] = {dstStrides, srcStrides};
  const StridedLoop<2> loop = collapse<2>(rank, shape, strides);
  const int64_t n = loop.inner();
  if (isTransposed(loop, 0)) {
    const int64_t rows = loop.shape[loop.rank - 2];
    const int64_t sd = loop.innerStride(0);
    forEachRow(loop, [&](const int64_t* at) {
      float* db = dst + at[0];
      const float* sb = src + at[1];
      forEachInTiles(rows, n, [&](int64_t i, int64_t j) { db[i + j * sd] += sb[i * n + j]; });
    }, 2);
    return;
  }
  const auto accumulateRow = f32StridedRows().accumulateRow;
  const int64_t sd = loop.innerStride(0);
  forEachRow(loop, [&](const int64_t* at) { accumulateRow(src + at[1], dst + at[0], sd, n); });
}

}  // namespace weft
