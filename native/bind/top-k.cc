// Binding of top-k sparsification's selection (native/dist/top-k.h):
// largestMagnitudes(values: Float32Array, k, out: Int32Array, scratch: Float32Array).
#include <string>

#include "bind/args.h"
#include "dist/top-k.h"
#include "registry.h"

namespace weft {

namespace {

Napi::Value LargestMagnitudes(const Napi::CallbackInfo& info) {
  const char* kernel = "largestMagnitudes";
  const Span<float> values = f32Arg(info, 0, kernel, "values");
  const int64_t k = intArg(info, 1);
  const Span<int32_t> out = i32Arg(info, 2, kernel, "out");
  const Span<float> scratch = f32Arg(info, 3, kernel, "scratch");
  const size_t n = values.length;
  if (k < 1 || static_cast<size_t>(k) > n || out.length != static_cast<size_t>(k) || scratch.length < n) {
    throw Napi::RangeError::New(info.Env(), std::string(kernel) + ": k must be from 1 to " + std::to_string(n) +
                                                " with out.length k and scratch.length >= " + std::to_string(n) + "; got k " +
                                                std::to_string(k) + ", out " + std::to_string(out.length) + ", scratch " +
                                                std::to_string(scratch.length));
  }
  topk::largestMagnitudes(values.data, n, static_cast<size_t>(k), out.data, scratch.data);
  return info.Env().Undefined();
}

}  // namespace

WEFT_BINDING("largestMagnitudes", LargestMagnitudes);

}  // namespace weft
