// Bindings of layerNorm, layerNormBackward, batchNorm and batchNormBackward (argument order as in
// Backend).
#include "bind/args.h"
#include "bind/pointwise-args.h"
#include "kernels/f32-norm/f32-norm.h"
#include "registry.h"

namespace weft {

namespace {

// An optional (nullable) buffer must still be long enough when it is given.
void requireOptional(Napi::Env env, const Span<float>& s, int64_t need, const char* k, const char* name) {
  if (s.data != nullptr) requireLength(env, s, need, k, name);
}

// layerNorm(x, gamma, beta, out, mean, rstd, rows, cols, eps)
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  const char* k = "layerNorm";
  auto x = f32Arg(info, 0, k, "x");
  auto gamma = f32OrNull(info, 1, k, "gamma");
  auto beta = f32OrNull(info, 2, k, "beta");
  auto out = f32Arg(info, 3, k, "out");
  auto mean = f32Arg(info, 4, k, "mean");
  auto rstd = f32Arg(info, 5, k, "rstd");
  const int64_t rows = countArg(info, 6, k, "rows");
  const int64_t cols = countArg(info, 7, k, "cols");
  const Napi::Env env = info.Env();
  requireLength(env, x, rows * cols, k, "x");
  requireOptional(env, gamma, cols, k, "gamma");
  requireOptional(env, beta, cols, k, "beta");
  requireLength(env, out, rows * cols, k, "out");
  requireLength(env, mean, rows, k, "mean");
  requireLength(env, rstd, rows, k, "rstd");
  f32Norm().layerNorm(x.data, gamma.data, beta.data, out.data, mean.data, rstd.data, rows, cols,
                      static_cast<float>(numArg(info, 8)));
  return env.Undefined();
}

// layerNormBackward(x, gamma, mean, rstd, gy, gx, ggamma, gbeta, rows, cols)
Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  const char* k = "layerNormBackward";
  auto x = f32Arg(info, 0, k, "x");
  auto gamma = f32OrNull(info, 1, k, "gamma");
  auto mean = f32Arg(info, 2, k, "mean");
  auto rstd = f32Arg(info, 3, k, "rstd");
  auto gy = f32Arg(info, 4, k, "gy");
  auto gx = f32Arg(info, 5, k, "gx");
  auto ggamma = f32OrNull(info, 6, k, "ggamma");
  auto gbeta = f32OrNull(info, 7, k, "gbeta");
  const int64_t rows = countArg(info, 8, k, "rows");
  const int64_t cols = countArg(info, 9, k, "cols");
  const Napi::Env env = info.Env();
  requireLength(env, x, rows * cols, k, "x");
  requireOptional(env, gamma, cols, k, "gamma");
  requireLength(env, mean, rows, k, "mean");
  requireLength(env, rstd, rows, k, "rstd");
  requireLength(env, gy, rows * cols, k, "gy");
  requireLength(env, gx, rows * cols, k, "gx");
  requireOptional(env, ggamma, cols, k, "ggamma");
  requireOptional(env, gbeta, cols, k, "gbeta");
  f32Norm().layerNormBackward(x.data, gamma.data, mean.data, rstd.data, gy.data, gx.data, ggamma.data, gbeta.data,
                              rows, cols);
  return env.Undefined();
}

// batchNorm(x, gamma, beta, out, mean, invstd, runningMean, runningVar, n, c, hw, eps, momentum, training)
Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  const char* k = "batchNorm";
  auto x = f32Arg(info, 0, k, "x");
  auto gamma = f32Arg(info, 1, k, "gamma");
  auto beta = f32Arg(info, 2, k, "beta");
  auto out = f32Arg(info, 3, k, "out");
  auto mean = f32Arg(info, 4, k, "mean");
  auto invstd = f32Arg(info, 5, k, "invstd");
  auto runningMean = f32Arg(info, 6, k, "runningMean");
  auto runningVar = f32Arg(info, 7, k, "runningVar");
  const int64_t n = countArg(info, 8, k, "n");
  const int64_t c = countArg(info, 9, k, "c");
  const int64_t hw = countArg(info, 10, k, "hw");
  const Napi::Env env = info.Env();
  requireLength(env, x, n * c * hw, k, "x");
  requireLength(env, out, n * c * hw, k, "out");
  for (const auto& [span, name] : {std::pair{gamma, "gamma"}, {beta, "beta"}, {mean, "mean"}, {invstd, "invstd"},
                                   {runningMean, "runningMean"}, {runningVar, "runningVar"}}) {
    requireLength(env, span, c, k, name);
  }
  f32Norm().batchNorm(x.data, gamma.data, beta.data, out.data, mean.data, invstd.data, runningMean.data,
                      runningVar.data, n, c, hw, static_cast<float>(numArg(info, 11)),
                      static_cast<float>(numArg(info, 12)), boolArg(info, 13));
  return env.Undefined();
}

// batchNormBackward(x, gamma, mean, invstd, gy, gx, ggamma, gbeta, n, c, hw)
Napi::Value BatchNormBackward(const Napi::CallbackInfo& info) {
  const char* k = "batchNormBackward";
  auto x = f32Arg(info, 0, k, "x");
  auto gamma = f32Arg(info, 1, k, "gamma");
  auto mean = f32Arg(info, 2, k, "mean");
  auto invstd = f32Arg(info, 3, k, "invstd");
  auto gy = f32Arg(info, 4, k, "gy");
  auto gx = f32Arg(info, 5, k, "gx");
  auto ggamma = f32Arg(info, 6, k, "ggamma");
  auto gbeta = f32Arg(info, 7, k, "gbeta");
  const int64_t n = countArg(info, 8, k, "n");
  const int64_t c = countArg(info, 9, k, "c");
  const int64_t hw = countArg(info, 10, k, "hw");
  const Napi::Env env = info.Env();
  for (const auto& [span, name] : {std::pair{x, "x"}, {gy, "gy"}, {gx, "gx"}}) requireLength(env, span, n * c * hw, k, name);
  for (const auto& [span, name] : {std::pair{gamma, "gamma"}, {mean, "mean"}, {invstd, "invstd"}, {ggamma, "ggamma"},
                                   {gbeta, "gbeta"}}) {
    requireLength(env, span, c, k, name);
  }
  f32Norm().batchNormBackward(x.data, gamma.data, mean.data, invstd.data, gy.data, gx.data, ggamma.data, gbeta.data,
                              n, c, hw);
  return env.Undefined();
}

}  // namespace

WEFT_BINDING("layerNorm", LayerNorm);
WEFT_BINDING("layerNormBackward", LayerNormBackward);
WEFT_BINDING("batchNorm", BatchNorm);
WEFT_BINDING("batchNormBackward", BatchNormBackward);

}  // namespace weft
