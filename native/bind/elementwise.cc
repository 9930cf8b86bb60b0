// Bindings of the element-wise kernels: unary, unaryBackward, binary, affine, copyStrided,
// accumulateStrided, fill, axpy, sumSquares, hasNonFinite (argument order as in Backend).
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
  const int64_t offset = countArg(info, 2, k, "xOffset"), n = countArg(info, 4, k, "n");
  const float* x = f32Sized(info, 1, k, "x", offset + n);
  f32Unary().unary(op, x + offset, f32Sized(info, 3, k, "out", n), n);
  return info.Env().Undefined();
}

// unaryBackward(op, x, y, gy, gx, n)
Napi::Value UnaryBackward(const Napi::CallbackInfo& info) {
  const char* k = "unaryBackward";
  const UnaryOp op = opArg<UnaryOp>(info, k);
  const int64_t n = countArg(info, 5, k, "n");
  f32Unary().unaryBackward(op, f32Sized(info, 1, k, "x", n), f32Sized(info, 2, k, "y", n),
                           f32Sized(info, 3, k, "gy", n), f32Sized(info, 4, k, "gx", n), n);
  return info.Env().Undefined();
}

// binary(op, a, aOffset, aStrides, b, bOffset, bStrides, out, shape)
Napi::Value Binary(const Napi::CallbackInfo& info) {
  const char* k = "binary";
  const BinaryOp op = opArg<BinaryOp>(info, k);
  const ShapeArg shape = shapeArg(info, 8, k);
  int64_t aStrides[kMaxRank], bStrides[kMaxRank];
  const float* a = stridedViewArg(info, 1, k, "a", "aStrides", shape, aStrides);
  const float* b = stridedViewArg(info, 4, k, "b", "bStrides", shape, bStrides);
  f32Binary(op, a, aStrides, b, bStrides, f32Sized(info, 7, k, "out", shape.size), shape.dims, shape.rank);
  return info.Env().Undefined();
}

// affine(x, out, n, alpha, beta)
Napi::Value Affine(const Napi::CallbackInfo& info) {
  const char* k = "affine";
  const int64_t n = countArg(info, 2, k, "n");
  f32Vector().affine(f32Sized(info, 0, k, "x", n), f32Sized(info, 1, k, "out", n), n,
                     static_cast<float>(numArg(info, 3)), static_cast<float>(numArg(info, 4)));
  return info.Env().Undefined();
}

// copyStrided(x, xOffset, xStrides, out, shape)
Napi::Value CopyStrided(const Napi::CallbackInfo& info) {
  const char* k = "copyStrided";
  const ShapeArg shape = shapeArg(info, 4, k);
  int64_t strides[kMaxRank];
  const float* x = stridedViewArg(info, 0, k, "x", "xStrides", shape, strides);
  f32CopyStrided(x, strides, f32Sized(info, 3, k, "out", shape.size), shape.dims, shape.rank);
  return info.Env().Undefined();
}

// accumulateStrided(src, shape, dst, dstOffset, dstStrides)
Napi::Value AccumulateStrided(const Napi::CallbackInfo& info) {
  const char* k = "accumulateStrided";
  const ShapeArg shape = shapeArg(info, 1, k);
  int64_t strides[kMaxRank];
  float* dst = stridedViewArg(info, 2, k, "dst", "dstStrides", shape, strides);
  f32AccumulateStrided(f32Sized(info, 0, k, "src", shape.size), shape.dims, dst, strides, shape.rank);
  return info.Env().Undefined();
}

// fill(x, offset, n, value)
Napi::Value Fill(const Napi::CallbackInfo& info) {
  const char* k = "fill";
  const int64_t offset = countArg(info, 1, k, "offset"), n = countArg(info, 2, k, "n");
  f32Vector().fill(f32Sized(info, 0, k, "x", offset + n) + offset, n, static_cast<float>(numArg(info, 3)));
  return info.Env().Undefined();
}

// axpy(alpha, x, y, n)
Napi::Value Axpy(const Napi::CallbackInfo& info) {
  const char* k = "axpy";
  const int64_t n = countArg(info, 3, k, "n");
  f32Vector().axpy(static_cast<float>(numArg(info, 0)), f32Sized(info, 1, k, "x", n), f32Sized(info, 2, k, "y", n), n);
  return info.Env().Undefined();
}

// sumSquares(x, n)
Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  const int64_t n = countArg(info, 1, "sumSquares", "n");
  return Napi::Number::New(info.Env(), f32Vector().sumSquares(f32Sized(info, 0, "sumSquares", "x", n), n));
}

// hasNonFinite(x, n)
Napi::Value HasNonFinite(const Napi::CallbackInfo& info) {
  const int64_t n = countArg(info, 1, "hasNonFinite", "n");
  return Napi::Boolean::New(info.Env(), f32Vector().hasNonFinite(f32Sized(info, 0, "hasNonFinite", "x", n), n));
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
