// A loop nest over a row-major shape with K strided operands (binary: a, b and the contiguous
// output; copyStrided: x and out; accumulateStrided: src and dst), reduced to as few axes as
// possible before any element is touched, so that the innermost loop is as long as it can be and
// its strides tell which fast path applies (1: contiguous, 0: broadcast).
#pragma once
#include <cstdint>

namespace weft {

constexpr int kMaxRank = 8;

template <int K>
struct StridedLoop {
  int rank = 1;  // at least 1 after collapsing (a scalar is shape [1])
  int64_t shape[kMaxRank] = {1};
  int64_t strides[K][kMaxRank] = {};
  int64_t inner() const { return shape[rank - 1]; }
  int64_t innerStride(int k) const { return strides[k][rank - 1]; }
};

// Builds the loop for `shape` (rank <= kMaxRank) and operands' strides. Axes of size 1 are
// dropped; axis d is merged into axis d + 1 when every operand steps over the pair as one axis
// (stride[d] == stride[d + 1] * shape[d + 1]), e.g. any fully contiguous operand set becomes rank 1.
template <int K>
StridedLoop<K> collapse(int rank, const int32_t* shape, const int64_t* const (&strides)[K]) {
  StridedLoop<K> loop;
  int r = 0;
  for (int d = 0; d < rank; d++) {
    if (shape[d] == 1) continue;
    bool merge = r > 0;
    for (int k = 0; k < K && merge; k++) merge = loop.strides[k][r - 1] == strides[k][d] * shape[d];
    if (merge) {
      loop.shape[r - 1] *= shape[d];
      for (int k = 0; k < K; k++) loop.strides[k][r - 1] = strides[k][d];
    } else {
      loop.shape[r] = shape[d];
      for (int k = 0; k < K; k++) loop.strides[k][r] = strides[k][d];
      r++;
    }
  }
  if (r == 0) {
    loop.shape[0] = 1;
    for (int k = 0; k < K; k++) loop.strides[k][0] = 0;
    r = 1;
  }
  loop.rank = r;
  return loop;
}

// Calls row(offsets) for every index of the outer rank - innerAxes axes, in row-major order, with
// each operand's element offset of that block's first element (a row of loop.inner() elements
// when innerAxes is 1).
template <int K, class Row>
void forEachRow(const StridedLoop<K>& loop, Row row, int innerAxes = 1) {
  int64_t offsets[K] = {};
  int64_t index[kMaxRank] = {};
  const int outer = loop.rank - innerAxes;
  for (;;) {
    row(static_cast<const int64_t*>(offsets));
    int d = outer - 1;
    for (; d >= 0; d--) {
      for (int k = 0; k < K; k++) offsets[k] += loop.strides[k][d];
      if (++index[d] < loop.shape[d]) break;
      for (int k = 0; k < K; k++) offsets[k] -= loop.strides[k][d] * loop.shape[d];
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

// Row-major strides of a contiguous `shape`.
inline void contiguousStrides(int rank, const int32_t* shape, int64_t* strides) {
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
}

}  // namespace weft
