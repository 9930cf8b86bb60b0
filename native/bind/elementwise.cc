// Bindings of the element-wise kernels: unary, unaryBackward, binary, affine, copyStrided,
// accumulateStrided, fill, axpy, sumSquares, hasNonFinite (argument order as in Backend).
#include <string>

#include "bind/args.h"
#include "bind/pointwise-args.h"
#include "kernels/f32-binary/f32-binary.h"
#include "kernels/f32-strided/f32-strided.h"
#include "kernels/f32-unary/f32-unary.h"
#include "kernels/f32-vector/f32-vector.h"
#include "registry.h"

namespace weft {

namespace {

// unary(op, x, xOffset, out, n)
Napi::Value Unary(const Napi::CallbackInfo& info) {
  const char* k = "unary";
  const UnaryOp op = opArg<UnaryOp>(info, k);
  auto x = f32Arg(info, 1, k, "x");
  const int64_t offset = countArg(info, 2, k, "xOffset");
  auto out = f32Arg(info, 3, k, "out");
  const int64_t n = countArg(info, 4, k, "n");
  requireLength(info.Env(), x, offset + n, k, "x");
  requireLength(info.Env(), out, n, k, "out");
  f32Unary().unary(op, x.data + offset, out.data, n);
  return info.Env().Undefined();
}

// unaryBackward(op, x, y, gy, gx, n)
Napi::Value UnaryBackward(const Napi::CallbackInfo& info) {
  const char* k = "unaryBackward";
  const UnaryOp op = opArg<UnaryOp>(info, k);
  auto x = f32Arg(info, 1, k, "x");
  auto y = f32Arg(info, 2, k, "y");
  auto gy = f32Arg(info, 3, k, "gy");
  auto gx = f32Arg(info, 4, k, "gx");
  const int64_t n = countArg(info, 5, k, "n");
  requireLength(info.Env(), x, n, k, "x");
  requireLength(info.Env(), y, n, k, "y");
  requireLength(info.Env(), gy, n, k, "gy");
  requireLength(info.Env(), gx, n, k, "gx");
  f32Unary().unaryBackward(op, x.data, y.data, gy.data, gx.data, n);
  return info.Env().Undefined();
}

// binary(op, a, aOffset, aStrides, b, bOffset, bStrides, out, shape)
Napi::Value Binary(const Napi::CallbackInfo& info) {
  const char* k = "binary";
  const BinaryOp op = opArg<BinaryOp>(info, k);
  const ShapeArg shape = shapeArg(info, 8, k);
  auto a = f32Arg(info, 1, k, "a");
  auto b = f32Arg(info, 4, k, "b");
  auto out = f32Arg(info, 7, k, "out");
  const int64_t aOffset = intArg(info, 2);
  const int64_t bOffset = intArg(info, 5);
  int64_t aStrides[kMaxRank], bStrides[kMaxRank];
  viewArg(info, 3, k, "aStrides", shape, aOffset, a.length, aStrides);
  viewArg(info, 6, k, "bStrides", shape, bOffset, b.length, bStrides);
  requireLength(info.Env(), out, shape.size, k, "out");
  f32Binary(op, a.data + aOffset, aStrides, b.data + bOffset, bStrides, out.data, shape.dims, shape.rank);
  return info.Env().Undefined();
}

// affine(x, out, n, alpha, beta)
Napi::Value Affine(const Napi::CallbackInfo& info) {
  const char* k = "affine";
  auto x = f32Arg(info, 0, k, "x");
  auto out = f32Arg(info, 1, k, "out");
  const int64_t n = countArg(info, 2, k, "n");
  requireLength(info.Env(), x, n, k, "x");
  requireLength(info.Env(), out, n, k, "out");
  f32Vector().affine(x.data, out.data, n, static_cast<float>(numArg(info, 3)), static_cast<float>(numArg(info, 4)));
  return info.Env().Undefined();
}

// copyStrided(x, xOffset, xStrides, out, shape)
Napi::Value CopyStrided(const Napi::CallbackInfo& info) {
  const char* k = "copyStrided";
  const ShapeArg shape = shapeArg(info, 4, k);
  auto x = f32Arg(info, 0, k, "x");
  const int64_t offset = intArg(info, 1);
  int64_t strides[kMaxRank];
  viewArg(info, 2, k, "xStrides", shape, offset, x.length, strides);
  auto out = f32Arg(info, 3, k, "out");
  requireLength(info.Env(), out, shape.size, k, "out");
  f32CopyStrided(x.data + offset, strides, out.data, shape.dims, shape.rank);
  return info.Env().Undefined();
}

// accumulateStrided(src, shape, dst, dstOffset, dstStrides)
Napi::Value AccumulateStrided(const Napi::CallbackInfo& info) {
  const char* k = "accumulateStrided";
  auto src = f32Arg(info, 0, k, "src");
  const ShapeArg shape = shapeArg(info, 1, k);
  auto dst = f32Arg(info, 2, k, "dst");
  const int64_t offset = intArg(info, 3);
  int64_t strides[kMaxRank];
  viewArg(info, 4, k, "dstStrides", shape, offset, dst.length, strides);
  requireLength(info.Env(), src, shape.size, k, "src");
  f32AccumulateStrided(src.data, shape.dims, dst.data + offset, strides, shape.rank);
  return info.Env().Undefined();
}

// fill(x, offset, n, value)
Napi::Value Fill(const Napi::CallbackInfo& info) {
  const char* k = "fill";
  auto x = f32Arg(info, 0, k, "x");
  const int64_t offset = countArg(info, 1, k, "offset");
  const int64_t n = countArg(info, 2, k, "n");
  requireLength(info.Env(), x, offset + n, k, "x");
  f32Vector().fill(x.data + offset, n, static_cast<float>(numArg(info, 3)));
  return info.Env().Undefined();
}

// axpy(alpha, x, y, n)
Napi::Value Axpy(const Napi::CallbackInfo& info) {
  const char* k = "axpy";
  auto x = f32Arg(info, 1, k, "x");
  auto y = f32Arg(info, 2, k, "y");
  const int64_t n = countArg(info, 3, k, "n");
  requireLength(info.Env(), x, n, k, "x");
  requireLength(info.Env(), y, n, k, "y");
  f32Vector().axpy(static_cast<float>(numArg(info, 0)), x.data, y.data, n);
  return info.Env().Undefined();
}

// sumSquares(x, n)
Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  const char* k = "sumSquares";
  auto x = f32Arg(info, 0, k, "x");
  const int64_t n = countArg(info, 1, k, "n");
  requireLength(info.Env(), x, n, k, "x");
  return Napi::Number::New(info.Env(), f32Vector().sumSquares(x.data, n));
}

// hasNonFinite(x, n)
Napi::Value HasNonFinite(const Napi::CallbackInfo& info) {
  const char* k = "hasNonFinite";
  auto x = f32Arg(info, 0, k, "x");
  const int64_t n = countArg(info, 1, k, "n");
  requireLength(info.Env(), x, n, k, "x");
  return Napi::Boolean::New(info.Env(), f32Vector().hasNonFinite(x.data, n));
}

}  // namespace

WEFT_BINDING("unary", Unary);
WEFT_BINDING("unaryBackward", UnaryBackward);
WEFT_BINDING("binary", Binary);
WEFT_BINDING("affine", Affine);
WEFT_BINDING("copyStrided", CopyStrided);
WEFT_BINDING("accumulateStrided", AccumulateStrided);
WEFT_BINDING("fill", Fill);
WEFT_BINDING("axpy", Axpy);
WEFT_BINDING("sumSquares", SumSquares);
WEFT_BINDING("hasNonFinite", HasNonFinite);

}  // namespace weft
