// Bindings of the softmax family: softmax, logSoftmax, their backwards, crossEntropy and its
// backward (argument order as in Backend).
#include <string>

#include "bind/args.h"
#include "bind/pointwise-args.h"
#include "kernels/f32-softmax/f32-softmax.h"
#include "registry.h"

namespace weft {

namespace {

// (x, out, rows, cols)
template <void (*F32SoftmaxKernels::*Fn)(const float*, float*, int64_t, int64_t)>
Napi::Value rowsKernel(const Napi::CallbackInfo& info, const char* k) {
  const int64_t rows = countArg(info, 2, k, "rows"), cols = countArg(info, 3, k, "cols");
  (f32Softmax().*Fn)(f32Sized(info, 0, k, "x", rows * cols), f32Sized(info, 1, k, "out", rows * cols), rows, cols);
  return info.Env().Undefined();
}

// (y, gy, gx, rows, cols)
template <void (*F32SoftmaxKernels::*Fn)(const float*, const float*, float*, int64_t, int64_t)>
Napi::Value rowsBackwardKernel(const Napi::CallbackInfo& info, const char* k) {
  const int64_t rows = countArg(info, 3, k, "rows"), cols = countArg(info, 4, k, "cols");
  (f32Softmax().*Fn)(f32Sized(info, 0, k, "y", rows * cols), f32Sized(info, 1, k, "gy", rows * cols),
                     f32Sized(info, 2, k, "gx", rows * cols), rows, cols);
  return info.Env().Undefined();
}

Napi::Value Softmax(const Napi::CallbackInfo& info) { return rowsKernel<&F32SoftmaxKernels::softmax>(info, "softmax"); }
Napi::Value LogSoftmax(const Napi::CallbackInfo& info) {
  return rowsKernel<&F32SoftmaxKernels::logSoftmax>(info, "logSoftmax");
}
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  return rowsBackwardKernel<&F32SoftmaxKernels::softmaxBackward>(info, "softmaxBackward");
}
Napi::Value LogSoftmaxBackward(const Napi::CallbackInfo& info) {
  return rowsBackwardKernel<&F32SoftmaxKernels::logSoftmaxBackward>(info, "logSoftmaxBackward");
}

// The arguments both cross-entropy kernels share: (probs or logits, targets, probs or gx, rows,
// cols). Every target must be a class index or negative (ignored); checked before any row is
// computed, with the reference backend's message.
struct CrossEntropyArgs {
  float* first;
  const int32_t* targets;
  float* second;
  int64_t rows, cols;
};

CrossEntropyArgs crossEntropyArgs(const Napi::CallbackInfo& info, const char* k, const char* first,
                                  const char* second) {
  const int64_t rows = countArg(info, 3, k, "rows"), cols = countArg(info, 4, k, "cols");
  const CrossEntropyArgs a{f32Sized(info, 0, k, first, rows * cols), i32Sized(info, 1, k, "targets", rows),
                           f32Sized(info, 2, k, second, rows * cols), rows, cols};
  for (int64_t r = 0; r < rows; r++) {
    if (a.targets[r] >= cols) {
      const std::string t = std::to_string(a.targets[r]), c = std::to_string(cols);
      throw Napi::RangeError::New(info.Env(), std::string(k) + ": target " + t + " of row " + std::to_string(r) +
                                                  " is not a class index for " + c +
                                                  " classes; targets must be in [0, " + c +
                                                  ") or negative to ignore the row");
    }
  }
  return a;
}

// crossEntropy(logits, targets, probs, rows, cols) -> number
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  const CrossEntropyArgs a = crossEntropyArgs(info, "crossEntropy", "logits", "probs");
  return Napi::Number::New(info.Env(), f32Softmax().crossEntropy(a.first, a.targets, a.second, a.rows, a.cols));
}

// crossEntropyBackward(probs, targets, gx, rows, cols, scale)
Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  const CrossEntropyArgs a = crossEntropyArgs(info, "crossEntropyBackward", "probs", "gx");
  f32Softmax().crossEntropyBackward(a.first, a.targets, a.second, a.rows, a.cols, static_cast<float>(numArg(info, 5)));
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
