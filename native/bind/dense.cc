// Bindings of the dense kernels: gemm (and gemmEpilogue), conv2d (and its gradients), max/avg
// pooling (and their gradients). Argument order and meaning are those of the Backend methods (src/backend/backend.ts);
// params objects arrive as plain JS objects. Every size is checked here, so the kernels can trust
// their shapes and index without bounds checks.
#include <napi.h>

#include <cstdint>
#include <limits>
#include <string>

#include "bind/args.h"
#include "kernels/bf16-gemm/bf16-gemm.h"
#include "kernels/conv2d/conv2d.h"
#include "kernels/f32-gemm/f32-gemm.h"
#include "kernels/pool2d/pool2d.h"
#include "registry.h"

namespace weft {

namespace {

// Largest element count the kernels index with `int` arithmetic inside one tensor.
constexpr int64_t kMaxElements = std::numeric_limits<int32_t>::max();

int64_t dimProp(Napi::Env env, const Napi::Object& o, const char* key, int64_t min, const char* kernel) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throwArg(env, kernel, (std::string("params.") + key + " must be a number").c_str());
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(min)) || d > static_cast<double>(kMaxElements) || d != static_cast<double>(static_cast<int64_t>(d))) {
    throw Napi::RangeError::New(env, std::string(kernel) + ": params." + key + " must be an integer >= " +
                                         std::to_string(min) + ", got " + std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

void requireFits(Napi::Env env, int64_t elements, const char* kernel, const char* what) {
  if (elements > kMaxElements) {
    throw Napi::RangeError::New(env, std::string(kernel) + ": " + what + " would have " + std::to_string(elements) +
                                         " elements, more than the 2^31 - 1 the kernels support");
  }
}

Napi::Object paramsArg(const Napi::CallbackInfo& info, const char* kernel) {
  if (!info[0].IsObject()) throwArg(info.Env(), kernel, "argument 0 (params) must be an object");
  return info[0].As<Napi::Object>();
}

// Index one past the last element an operand of `rows` x `cols` with leading dimension ld touches.
int64_t extent(int64_t rows, int64_t cols, int64_t ld) { return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols; }

// gemm(p, a, b, c) and gemmEpilogue(p, a, b, c, ...): the checked product, then `finish` gives
// each batch entry's epilogue (or null) from that entry's offset into C.
template <class Finish>
Napi::Value runGemm(const Napi::CallbackInfo& info, const char* kName, Finish finish) {
  Napi::Env env = info.Env();
  Napi::Object p = paramsArg(info, kName);
  const bool transA = boolProp(p, "transA"), transB = boolProp(p, "transB");
  // params.bf16 (absent: false) rounds A and B to bf16 first (kernels/bf16-gemm/bf16-gemm.h).
  const auto gemm = boolProp(p, "bf16") ? weft_bf16_gemm : weft_f32_gemm;
  const int64_t m = dimProp(env, p, "m", 0, kName), n = dimProp(env, p, "n", 0, kName), k = dimProp(env, p, "k", 0, kName);
  const int64_t lda = dimProp(env, p, "lda", 0, kName), ldb = dimProp(env, p, "ldb", 0, kName);
  const int64_t ldc = dimProp(env, p, "ldc", 0, kName), batch = dimProp(env, p, "batch", 0, kName);
  const int64_t offA = dimProp(env, p, "offsetA", 0, kName), offB = dimProp(env, p, "offsetB", 0, kName);
  const int64_t offC = dimProp(env, p, "offsetC", 0, kName), strideA = dimProp(env, p, "strideA", 0, kName);
  const int64_t strideB = dimProp(env, p, "strideB", 0, kName), strideC = dimProp(env, p, "strideC", 0, kName);
  const float alpha = static_cast<float>(numProp(p, "alpha")), beta = static_cast<float>(numProp(p, "beta"));
  if (lda < (transA ? m : k) || ldb < (transB ? k : n) || ldc < n) {
    throw Napi::RangeError::New(env, std::string(kName) + ": leading dimensions lda=" + std::to_string(lda) + ", ldb=" +
                                         std::to_string(ldb) + ", ldc=" + std::to_string(ldc) +
                                         " are shorter than the rows they hold (m=" + std::to_string(m) + ", n=" +
                                         std::to_string(n) + ", k=" + std::to_string(k) + ")");
  }
  Span<float> a = f32Arg(info, 1, kName, "a"), b = f32Arg(info, 2, kName, "b"), c = f32Arg(info, 3, kName, "c");
  if (batch == 0 || m == 0 || n == 0) return env.Undefined();
  const int64_t last = batch - 1;
  // A and B are read only when there is a product to form (k > 0).
  if (k > 0) {
    requireLength(env, a, offA + last * strideA + (transA ? extent(k, m, lda) : extent(m, k, lda)), kName, "a");
    requireLength(env, b, offB + last * strideB + (transB ? extent(n, k, ldb) : extent(k, n, ldb)), kName, "b");
  }
  const int64_t cNeed = offC + last * strideC + extent(m, n, ldc);
  requireLength(env, c, cNeed, kName, "c");
  const auto epilogueAt = finish(n, cNeed);
  for (int64_t i = 0; i < batch; ++i) {
    const int64_t at = offC + i * strideC;
    GemmEpilogue e;
    const GemmEpilogue* ep = epilogueAt(at, &e);
    gemm(transA, transB, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha,
                  a.data + offA + i * strideA, static_cast<int>(lda), b.data + offB + i * strideB, static_cast<int>(ldb),
                  beta, c.data + at, static_cast<int>(ldc), ep);
  }
  return env.Undefined();
}

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  return runGemm(info, "gemm", [](int64_t, int64_t) {
    return [](int64_t, GemmEpilogue*) -> const GemmEpilogue* { return nullptr; };
  });
}

// gemmEpilogue(p, a, b, c, activation, bias, residual, derivative): activation is an index into
// ACTIVATIONS; bias has n elements; residual and derivative are laid out like c (Backend docs).
Napi::Value GemmEpilogueBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kName = "gemmEpilogue";
  Napi::Env env = info.Env();
  const int64_t act = info[4].IsNumber() ? intArg(info, 4) : -1;
  if (act < 0 || act >= static_cast<int64_t>(Activation::Count)) throwArg(env, kName, "argument 4 (activation) must be an index into ACTIVATIONS");
  Span<float> bias = f32OrNull(info, 5, kName, "bias"), residual = f32OrNull(info, 6, kName, "residual");
  Span<float> derivative = f32OrNull(info, 7, kName, "derivative");
  return runGemm(info, kName, [&](int64_t n, int64_t cNeed) {
    if (bias.data) requireLength(env, bias, n, kName, "bias");
    if (residual.data) requireLength(env, residual, cNeed, kName, "residual");
    if (derivative.data) requireLength(env, derivative, cNeed, kName, "derivative");
    return [&](int64_t at, GemmEpilogue* e) -> const GemmEpilogue* {
      *e = {bias.data, residual.data ? residual.data + at : nullptr, static_cast<Activation>(act),
            derivative.data ? derivative.data + at : nullptr};
      return e;
    };
  });
}

// The window fields shared by Conv2dShape and Pool2dShape: image size, kernel, strides, padding.
template <typename Shape>
void readWindow(Napi::Env env, const Napi::Object& p, const char* kernel, const char* window, Shape* s) {
  s->h = static_cast<int>(dimProp(env, p, "h", 1, kernel));
  s->w = static_cast<int>(dimProp(env, p, "w", 1, kernel));
  s->kh = static_cast<int>(dimProp(env, p, "kh", 1, kernel));
  s->kw = static_cast<int>(dimProp(env, p, "kw", 1, kernel));
  s->strideH = static_cast<int>(dimProp(env, p, "strideH", 1, kernel));
  s->strideW = static_cast<int>(dimProp(env, p, "strideW", 1, kernel));
  s->padH = static_cast<int>(dimProp(env, p, "padH", 0, kernel));
  s->padW = static_cast<int>(dimProp(env, p, "padW", 0, kernel));
  if (s->h + 2 * static_cast<int64_t>(s->padH) < s->kh || s->w + 2 * static_cast<int64_t>(s->padW) < s->kw) {
    throw Napi::RangeError::New(env, std::string(kernel) + ": the " + std::to_string(s->kh) + "x" + std::to_string(s->kw) +
                                         " " + window + " is larger than the padded " + std::to_string(s->h) + "x" +
                                         std::to_string(s->w) + " input; pad more or use a smaller " + window);
  }
}

Conv2dShape convShapeArg(const Napi::CallbackInfo& info, const char* kernel) {
  Napi::Env env = info.Env();
  Napi::Object p = paramsArg(info, kernel);
  Conv2dShape s;
  s.n = static_cast<int>(dimProp(env, p, "n", 0, kernel));
  s.c = static_cast<int>(dimProp(env, p, "c", 1, kernel));
  s.oc = static_cast<int>(dimProp(env, p, "oc", 1, kernel));
  readWindow(env, p, kernel, "kernel", &s);
  requireFits(env, int64_t{s.n} * s.c * s.h * s.w, kernel, "the input");
  requireFits(env, int64_t{s.n} * s.oc * s.outH() * s.outW(), kernel, "the output");
  requireFits(env, int64_t{s.oc} * s.c * s.kh * s.kw, kernel, "the weight");
  requireFits(env, int64_t{s.c} * s.kh * s.kw * s.outH() * s.outW(), kernel, "one image's im2col columns");
  requireFits(env, int64_t{s.c} * (s.h + 2 * int64_t{s.padH}) * (s.w + 2 * int64_t{s.padW}), kernel, "one padded image");
  return s;
}

size_t inputSize(const Conv2dShape& s) { return size_t(s.n) * s.c * s.h * s.w; }
size_t outputSize(const Conv2dShape& s) { return size_t(s.n) * s.oc * s.outH() * s.outW(); }
size_t weightSize(const Conv2dShape& s) { return size_t(s.oc) * s.c * s.kh * s.kw; }

Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  constexpr const char* kName = "conv2d";
  Napi::Env env = info.Env();
  const Conv2dShape s = convShapeArg(info, kName);
  Span<float> x = f32Arg(info, 1, kName, "x"), w = f32Arg(info, 2, kName, "weight");
  Span<float> bias = f32OrNull(info, 3, kName, "bias"), out = f32Arg(info, 4, kName, "out");
  requireLength(env, x, inputSize(s), kName, "x");
  requireLength(env, w, weightSize(s), kName, "weight");
  if (bias.data != nullptr) requireLength(env, bias, s.oc, kName, "bias");
  requireLength(env, out, outputSize(s), kName, "out");
  weft_f32_conv2d(s, x.data, w.data, bias.data, out.data);
  return env.Undefined();
}

Napi::Value Conv2dBackwardInput(const Napi::CallbackInfo& info) {
  constexpr const char* kName = "conv2dBackwardInput";
  Napi::Env env = info.Env();
  const Conv2dShape s = convShapeArg(info, kName);
  Span<float> gy = f32Arg(info, 1, kName, "gy"), w = f32Arg(info, 2, kName, "weight"), gx = f32Arg(info, 3, kName, "gx");
  requireLength(env, gy, outputSize(s), kName, "gy");
  requireLength(env, w, weightSize(s), kName, "weight");
  requireLength(env, gx, inputSize(s), kName, "gx");
  weft_f32_conv2d_backward_input(s, gy.data, w.data, gx.data);
  return env.Undefined();
}

Napi::Value Conv2dBackwardWeight(const Napi::CallbackInfo& info) {
  constexpr const char* kName = "conv2dBackwardWeight";
  Napi::Env env = info.Env();
  const Conv2dShape s = convShapeArg(info, kName);
  Span<float> x = f32Arg(info, 1, kName, "x"), gy = f32Arg(info, 2, kName, "gy");
  Span<float> gw = f32Arg(info, 3, kName, "gw"), gb = f32OrNull(info, 4, kName, "gb");
  requireLength(env, x, inputSize(s), kName, "x");
  requireLength(env, gy, outputSize(s), kName, "gy");
  requireLength(env, gw, weightSize(s), kName, "gw");
  if (gb.data != nullptr) requireLength(env, gb, s.oc, kName, "gb");
  weft_f32_conv2d_backward_weight(s, x.data, gy.data, gw.data, gb.data);
  return env.Undefined();
}

Pool2dShape poolShapeArg(const Napi::CallbackInfo& info, const char* kernel) {
  Napi::Env env = info.Env();
  Napi::Object p = paramsArg(info, kernel);
  Pool2dShape s;
  s.n = static_cast<int>(dimProp(env, p, "n", 0, kernel));
  s.c = static_cast<int>(dimProp(env, p, "c", 0, kernel));
  readWindow(env, p, kernel, "window", &s);
  requireFits(env, int64_t{s.n} * s.c * s.h * s.w, kernel, "the input");
  requireFits(env, int64_t{s.n} * s.c * s.outH() * s.outW(), kernel, "the output");
  return s;
}

size_t poolInputSize(const Pool2dShape& s) { return size_t(s.n) * s.c * s.h * s.w; }
size_t poolOutputSize(const Pool2dShape& s) { return size_t(s.n) * s.c * s.outH() * s.outW(); }

Napi::Value MaxPool2d(const Napi::CallbackInfo& info) {
  constexpr const char* kName = "maxPool2d";
  Napi::Env env = info.Env();
  const Pool2dShape s = poolShapeArg(info, kName);
  Span<float> x = f32Arg(info, 1, kName, "x"), out = f32Arg(info, 2, kName, "out");
  Span<int32_t> argmax = i32Arg(info, 3, kName, "argmax");
  requireLength(env, x, poolInputSize(s), kName, "x");
  requireLength(env, out, poolOutputSize(s), kName, "out");
  requireLength(env, argmax, poolOutputSize(s), kName, "argmax");
  weft_f32_max_pool2d(s, x.data, out.data, argmax.data);
  return env.Undefined();
}

Napi::Value MaxPool2dBackward(const Napi::CallbackInfo& info) {
  constexpr const char* kName = "maxPool2dBackward";
  Napi::Env env = info.Env();
  const Pool2dShape s = poolShapeArg(info, kName);
  Span<float> gy = f32Arg(info, 1, kName, "gy");
  Span<int32_t> argmax = i32Arg(info, 2, kName, "argmax");
  Span<float> gx = f32Arg(info, 3, kName, "gx");
  requireLength(env, gy, poolOutputSize(s), kName, "gy");
  requireLength(env, argmax, poolOutputSize(s), kName, "argmax");
  requireLength(env, gx, poolInputSize(s), kName, "gx");
  if (!weft_f32_max_pool2d_backward(s, gy.data, argmax.data, gx.data)) {
    throw Napi::RangeError::New(env, std::string(kName) + ": argmax holds an index outside the " + std::to_string(s.h) +
                                         "x" + std::to_string(s.w) + " plane; pass the argmax that maxPool2d wrote");
  }
  return env.Undefined();
}

Napi::Value AvgPool2d(const Napi::CallbackInfo& info) {
  constexpr const char* kName = "avgPool2d";
  Napi::Env env = info.Env();
  const Pool2dShape s = poolShapeArg(info, kName);
  Span<float> x = f32Arg(info, 1, kName, "x"), out = f32Arg(info, 2, kName, "out");
  requireLength(env, x, poolInputSize(s), kName, "x");
  requireLength(env, out, poolOutputSize(s), kName, "out");
  weft_f32_avg_pool2d(s, x.data, out.data);
  return env.Undefined();
}

Napi::Value AvgPool2dBackward(const Napi::CallbackInfo& info) {
  constexpr const char* kName = "avgPool2dBackward";
  Napi::Env env = info.Env();
  const Pool2dShape s = poolShapeArg(info, kName);
  Span<float> gy = f32Arg(info, 1, kName, "gy"), gx = f32Arg(info, 2, kName, "gx");
  requireLength(env, gy, poolOutputSize(s), kName, "gy");
  requireLength(env, gx, poolInputSize(s), kName, "gx");
  weft_f32_avg_pool2d_backward(s, gy.data, gx.data);
  return env.Undefined();
}

// Scratch memory can run out; say so in JavaScript rather than abort the process.
template <Napi::Value (*Fn)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return Fn(info);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "out of memory for the kernel's scratch buffers");
  }
}

}  // namespace

WEFT_BINDING("gemm", guarded<Gemm>);
WEFT_BINDING("gemmEpilogue", guarded<GemmEpilogueBinding>);
WEFT_BINDING("conv2d", guarded<Conv2d>);
WEFT_BINDING("conv2dBackwardInput", guarded<Conv2dBackwardInput>);
WEFT_BINDING("conv2dBackwardWeight", guarded<Conv2dBackwardWeight>);
WEFT_BINDING("maxPool2d", MaxPool2d);
WEFT_BINDING("maxPool2dBackward", MaxPool2dBackward);
WEFT_BINDING("avgPool2d", AvgPool2d);
WEFT_BINDING("avgPool2dBackward", AvgPool2dBackward);

}  // namespace weft
