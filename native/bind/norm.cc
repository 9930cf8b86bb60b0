// Bindings of layerNorm, layerNormBackward, batchNorm and batchNormBackward (argument order as in
// Backend).
#include "bind/args.h"
#include "bind/pointwise-args.h"
#include "kernels/f32-norm/f32-norm.h"
#include "registry.h"

namespace weft {

namespace {

// layerNorm(x, gamma, beta, out, mean, rstd, rows, cols, eps)
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  const char* k = "layerNorm";
  const int64_t rows = countArg(info, 6, k, "rows"), cols = countArg(info, 7, k, "cols");
  f32Norm().layerNorm(f32Sized(info, 0, k, "x", rows * cols), f32SizedOrNull(info, 1, k, "gamma", cols),
                      f32SizedOrNull(info, 2, k, "beta", cols), f32Sized(info, 3, k, "out", rows * cols),
                      f32Sized(info, 4, k, "mean", rows), f32Sized(info, 5, k, "rstd", rows), rows, cols,
                      static_cast<float>(numArg(info, 8)));
  return info.Env().Undefined();
}

// layerNormBackward(x, gamma, mean, rstd, gy, gx, ggamma, gbeta, rows, cols)
Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  const char* k = "layerNormBackward";
  const int64_t rows = countArg(info, 8, k, "rows"), cols = countArg(info, 9, k, "cols");
  f32Norm().layerNormBackward(f32Sized(info, 0, k, "x", rows * cols), f32SizedOrNull(info, 1, k, "gamma", cols),
                              f32Sized(info, 2, k, "mean", rows), f32Sized(info, 3, k, "rstd", rows),
                              f32Sized(info, 4, k, "gy", rows * cols), f32Sized(info, 5, k, "gx", rows * cols),
                              f32SizedOrNull(info, 6, k, "ggamma", cols), f32SizedOrNull(info, 7, k, "gbeta", cols),
                              rows, cols);
  return info.Env().Undefined();
}

// batchNorm(x, gamma, beta, out, mean, invstd, runningMean, runningVar, n, c, hw, eps, momentum, training)
Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  const char* k = "batchNorm";
  const int64_t n = countArg(info, 8, k, "n"), c = countArg(info, 9, k, "c"), hw = countArg(info, 10, k, "hw");
  const int64_t size = n * c * hw;
  f32Norm().batchNorm(f32Sized(info, 0, k, "x", size), f32Sized(info, 1, k, "gamma", c),
                      f32Sized(info, 2, k, "beta", c), f32Sized(info, 3, k, "out", size),
                      f32Sized(info, 4, k, "mean", c), f32Sized(info, 5, k, "invstd", c),
                      f32Sized(info, 6, k, "runningMean", c), f32Sized(info, 7, k, "runningVar", c), n, c, hw,
                      static_cast<float>(numArg(info, 11)), static_cast<float>(numArg(info, 12)), boolArg(info, 13));
  return info.Env().Undefined();
}

// batchNormBackward(x, gamma, mean, invstd, gy, gx, ggamma, gbeta, n, c, hw)
Napi::Value BatchNormBackward(const Napi::CallbackInfo& info) {
  const char* k = "batchNormBackward";
  const int64_t n = countArg(info, 8, k, "n"), c = countArg(info, 9, k, "c"), hw = countArg(info, 10, k, "hw");
  const int64_t size = n * c * hw;
  f32Norm().batchNormBackward(f32Sized(info, 0, k, "x", size), f32Sized(info, 1, k, "gamma", c),
                              f32Sized(info, 2, k, "mean", c), f32Sized(info, 3, k, "invstd", c),
                              f32Sized(info, 4, k, "gy", size), f32Sized(info, 5, k, "gx", size),
                              f32Sized(info, 6, k, "ggamma", c), f32Sized(info, 7, k, "gbeta", c), n, c, hw);
  return info.Env().Undefined();
}

}  // namespace

WEFT_BINDING("layerNorm", LayerNorm);
WEFT_BINDING("layerNormBackward", LayerNormBackward);
WEFT_BINDING("batchNorm", BatchNorm);
WEFT_BINDING("batchNormBackward", BatchNormBackward);

}  // namespace weft
