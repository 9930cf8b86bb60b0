// The driver of binary: collapse the shape, then run the ISA's row kernel over every row. pow is
// done here in float64 libm for every ISA: it is rare in training and its vectorised forms are
// either slow or wrong for negative bases with integer exponents.
#include "kernels/f32-binary/f32-binary.h"

#include <cmath>

#include "kernels/f32-strided/strided-loop.h"

namespace weft {

namespace {

void powRow(const float* a, int64_t sa, const float* b, int64_t sb, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    out[i] = static_cast<float>(std::pow(static_cast<double>(a[i * sa]), static_cast<double>(b[i * sb])));
  }
}

}  // namespace

void f32Binary(BinaryOp op, const float* a, const int64_t* aStrides, const float* b, const int64_t* bStrides,
               float* out, const int32_t* shape, int rank) {
  for (int d = 0; d < rank; d++) if (shape[d] == 0) return;
  int64_t outStrides[kMaxRank];
  contiguousStrides(rank, shape, outStrides);
  const int64_t* const strides[3] = {aStrides, bStrides, outStrides};
  const StridedLoop<3> loop = collapse<3>(rank, shape, strides);
  const int64_t n = loop.inner();
  const int64_t sa = loop.innerStride(0);
  const int64_t sb = loop.innerStride(1);
  // collapse() keeps the output's innermost stride 1 (it is contiguous); rows are n apart.
  const auto rowKernel = f32BinaryRows().binaryRow;
  forEachRow(loop, [&](const int64_t* at) {
    if (op == BinaryOp::Pow) powRow(a + at[0], sa, b + at[1], sb, out + at[2], n);
    else rowKernel(op, a + at[0], sa, b + at[1], sb, out + at[2], n);
  });
}

}  // namespace weft
