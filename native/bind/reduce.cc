// Binding of reduce(op, x, out, outer, n, inner).
#include "bind/args.h"
#include "bind/pointwise-args.h"
#include "kernels/f32-reduce/f32-reduce.h"
#include "registry.h"

namespace weft {

namespace {

Napi::Value Reduce(const Napi::CallbackInfo& info) {
  const char* k = "reduce";
  const ReduceOp op = opArg<ReduceOp>(info, k);
  auto x = f32Arg(info, 1, k, "x");
  auto out = f32Arg(info, 2, k, "out");
  const int64_t outer = countArg(info, 3, k, "outer");
  const int64_t n = countArg(info, 4, k, "n");
  const int64_t inner = countArg(info, 5, k, "inner");
  requireLength(info.Env(), x, outer * n * inner, k, "x");
  requireLength(info.Env(), out, outer * inner, k, "out");
  f32Reduce().reduce(op, x.data, out.data, outer, n, inner);
  return info.Env().Undefined();
}

}  // namespace

WEFT_BINDING("reduce", Reduce);

}  // namespace weft
