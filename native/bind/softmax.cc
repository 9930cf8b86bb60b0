// Bindings of the softmax family: softmax, logSoftmax, their backwards, crossEntropy and its
// backward (argument order as in Backend).
#include <string>

#include "bind/args.h"
#include "bind/pointwise-args.h"
#include "kernels/f32-softmax/f32-softmax.h"
#include "registry.h"

namespace weft {

namespace {

using RowsFn = void (*)(const float*, float*, int64_t, int64_t);
using RowsBackwardFn = void (*)(const float*, const float*, float*, int64_t, int64_t);

// (x, out, rows, cols)
Napi::Value callRows(const Napi::CallbackInfo& info, const char* k, RowsFn fn) {
  auto x = f32Arg(info, 0, k, "x");
  auto out = f32Arg(info, 1, k, "out");
  const int64_t rows = countArg(info, 2, k, "rows");
  const int64_t cols = countArg(info, 3, k, "cols");
  requireLength(info.Env(), x, rows * cols, k, "x");
  requireLength(info.Env(), out, rows * cols, k, "out");
  fn(x.data, out.data, rows, cols);
  return info.Env().Undefined();
}

// (y, gy, gx, rows, cols)
Napi::Value callRowsBackward(const Napi::CallbackInfo& info, const char* k, RowsBackwardFn fn) {
  auto y = f32Arg(info, 0, k, "y");
  auto gy = f32Arg(info, 1, k, "gy");
  auto gx = f32Arg(info, 2, k, "gx");
  const int64_t rows = countArg(info, 3, k, "rows");
  const int64_t cols = countArg(info, 4, k, "cols");
  requireLength(info.Env(), y, rows * cols, k, "y");
  requireLength(info.Env(), gy, rows * cols, k, "gy");
  requireLength(info.Env(), gx, rows * cols, k, "gx");
  fn(y.data, gy.data, gx.data, rows, cols);
  return info.Env().Undefined();
}

Napi::Value Softmax(const Napi::CallbackInfo& info) { return callRows(info, "softmax", f32Softmax().softmax); }
Napi::Value LogSoftmax(const Napi::CallbackInfo& info) { return callRows(info, "logSoftmax", f32Softmax().logSoftmax); }
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  return callRowsBackward(info, "softmaxBackward", f32Softmax().softmaxBackward);
}
Napi::Value LogSoftmaxBackward(const Napi::CallbackInfo& info) {
  return callRowsBackward(info, "logSoftmaxBackward", f32Softmax().logSoftmaxBackward);
}

// Every target must be a class index or negative (ignored); checked before any row is computed.
void checkTargets(const Napi::CallbackInfo& info, const char* k, const Span<int32_t>& targets, int64_t rows,
                  int64_t cols) {
  requireLength(info.Env(), targets, rows, k, "targets");
  for (int64_t r = 0; r < rows; r++) {
    if (targets.data[r] >= cols) {
      throw Napi::RangeError::New(info.Env(), std::string(k) + ": target " + std::to_string(targets.data[r]) +
                                                  " of row " + std::to_string(r) + " is not a class index for " +
                                                  std::to_string(cols) + " classes; targets must be in [0, " +
                                                  std::to_string(cols) + ") or negative to ignore the row");
    }
  }
}

// crossEntropy(logits, targets, probs, rows, cols) -> number
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  const char* k = "crossEntropy";
  auto logits = f32Arg(info, 0, k, "logits");
  auto targets = i32Arg(info, 1, k, "targets");
  auto probs = f32Arg(info, 2, k, "probs");
  const int64_t rows = countArg(info, 3, k, "rows");
  const int64_t cols = countArg(info, 4, k, "cols");
  requireLength(info.Env(), logits, rows * cols, k, "logits");
  requireLength(info.Env(), probs, rows * cols, k, "probs");
  checkTargets(info, k, targets, rows, cols);
  return Napi::Number::New(info.Env(), f32Softmax().crossEntropy(logits.data, targets.data, probs.data, rows, cols));
}

// crossEntropyBackward(probs, targets, gx, rows, cols, scale)
Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  const char* k = "crossEntropyBackward";
  auto probs = f32Arg(info, 0, k, "probs");
  auto targets = i32Arg(info, 1, k, "targets");
  auto gx = f32Arg(info, 2, k, "gx");
  const int64_t rows = countArg(info, 3, k, "rows");
  const int64_t cols = countArg(info, 4, k, "cols");
  requireLength(info.Env(), probs, rows * cols, k, "probs");
  requireLength(info.Env(), gx, rows * cols, k, "gx");
  checkTargets(info, k, targets, rows, cols);
  f32Softmax().crossEntropyBackward(probs.data, targets.data, gx.data, rows, cols, static_cast<float>(numArg(info, 5)));
  return info.Env().Undefined();
}

}  // namespace

WEFT_BINDING("softmax", Softmax);
WEFT_BINDING("logSoftmax", LogSoftmax);
WEFT_BINDING("softmaxBackward", SoftmaxBackward);
WEFT_BINDING("logSoftmaxBackward", LogSoftmaxBackward);
WEFT_BINDING("crossEntropy", CrossEntropy);
WEFT_BINDING("crossEntropyBackward", CrossEntropyBackward);

}  // namespace weft
