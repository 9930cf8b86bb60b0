// Bindings of attention and attentionBackward (argument order as in Backend; the AttentionParams
// object first). Every view is checked to lie inside its buffer before a head is computed.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "bind/args.h"
#include "bind/pointwise-args.h"
#include "kernels/f32-attention/f32-attention.h"
#include "registry.h"

namespace weft {

namespace {

struct AttentionArgs {
  AttentionShape shape;
  HeadsView q, k, v;
};

int64_t countProp(Napi::Env env, const Napi::Object& p, const char* kernel, const char* key) {
  const int64_t n = intProp(p, key);
  if (n < 0) throwArg(env, kernel, (std::string(key) + " must not be negative").c_str());
  return n;
}

// The view of operand `name` ("q", "k" or "v") over `rows` positions, from p's <name>Offset and
// <name>Stride{B,H,T}, checked against the buffer at argument i.
HeadsView headsView(const Napi::CallbackInfo& info, size_t i, const char* kernel, const Napi::Object& p,
                    const std::string& name, const AttentionShape& s, int64_t rows) {
  const Span<float> buffer = f32Arg(info, i, kernel, name.c_str());
  const int64_t offset = intProp(p, (name + "Offset").c_str());
  const int64_t sb = intProp(p, (name + "StrideB").c_str()), sh = intProp(p, (name + "StrideH").c_str()),
                st = intProp(p, (name + "StrideT").c_str());
  if (offset < 0 || sb < 0 || sh < 0 || st < 0) {
    throwArg(info.Env(), kernel, (name + " has a negative offset or stride").c_str());
  }
  if (s.batch > 0 && s.heads > 0 && rows > 0 && s.headSize > 0) {
    const int64_t last = offset + (s.batch - 1) * sb + (s.heads - 1) * sh + (rows - 1) * st + s.headSize - 1;
    if (static_cast<size_t>(last) >= buffer.length) {
      throw Napi::RangeError::New(info.Env(), std::string(kernel) + ": the view of " + name + " reaches element " +
                                                  std::to_string(last) + " of a buffer of " +
                                                  std::to_string(buffer.length));
    }
  }
  return {buffer.data + offset, sb, sh, st};
}

AttentionArgs attentionArgs(const Napi::CallbackInfo& info, const char* kernel) {
  const Napi::Env env = info.Env();
  if (!info[0].IsObject()) throwArg(env, kernel, "argument p must be an AttentionParams object");
  const Napi::Object p = info[0].As<Napi::Object>();
  AttentionShape s{countProp(env, p, kernel, "batch"), countProp(env, p, kernel, "heads"),
                   countProp(env, p, kernel, "tq"),    countProp(env, p, kernel, "tk"),
                   countProp(env, p, kernel, "headSize"), static_cast<float>(numProp(p, "scale")),
                   boolProp(p, "causal")};
  if (!(s.scale > 0.0f) || !std::isfinite(s.scale)) {
    throwArg(env, kernel, ("scale must be a positive finite number, got " + std::to_string(numProp(p, "scale"))).c_str());
  }
  // The per-head kernels index a head's packed keys and its rows with 32-bit ints.
  const int64_t limit = std::numeric_limits<int32_t>::max();
  if (s.headSize * s.tk > limit || s.headSize * s.tq > limit) {
    throw Napi::RangeError::New(env, std::string(kernel) + ": a head of " + std::to_string(s.tq) + " x " +
                                         std::to_string(s.tk) + " positions of size " + std::to_string(s.headSize) +
                                         " is beyond the 2^31 elements the kernels index");
  }
  return {s, headsView(info, 1, kernel, p, "q", s, s.tq), headsView(info, 2, kernel, p, "k", s, s.tk),
          headsView(info, 3, kernel, p, "v", s, s.tk)};
}

// attention(p, q, k, v, y, lse)
Napi::Value Attention(const Napi::CallbackInfo& info) {
  const char* k = "attention";
  const AttentionArgs a = attentionArgs(info, k);
  const AttentionShape& s = a.shape;
  float* y = f32Sized(info, 4, k, "y", s.batch * s.tq * s.heads * s.headSize);
  float* lse = f32Sized(info, 5, k, "lse", s.batch * s.heads * s.tq);
  attentionForward(s, a.q, a.k, a.v, y, lse);
  return info.Env().Undefined();
}

// attentionBackward(p, q, k, v, y, lse, gy, gq, gk, gv)
Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  const char* k = "attentionBackward";
  const AttentionArgs a = attentionArgs(info, k);
  const AttentionShape& s = a.shape;
  const int64_t ySize = s.batch * s.tq * s.heads * s.headSize, kvSize = s.batch * s.heads * s.tk * s.headSize;
  const float* y = f32Sized(info, 4, k, "y", ySize);
  const float* lse = f32Sized(info, 5, k, "lse", s.batch * s.heads * s.tq);
  const float* gy = f32Sized(info, 6, k, "gy", ySize);
  float* gq = f32Sized(info, 7, k, "gq", ySize);
  float* gk = f32Sized(info, 8, k, "gk", kvSize);
  float* gv = f32Sized(info, 9, k, "gv", kvSize);
  attentionBackward(s, a.q, a.k, a.v, y, lse, gy, gq, gk, gv);
  return info.Env().Undefined();
}

}  // namespace

WEFT_BINDING("attention", Attention);
WEFT_BINDING("attentionBackward", AttentionBackward);

}  // namespace weft
