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
  const int64_t outer = countArg(info, 3, k, "outer"), n = countArg(info, 4, k, "n");
  const int64_t inner = countArg(info, 5, k, "inner");
  f32Reduce().reduce(op, f32Sized(info, 1, k, "x", outer * n * inner), f32Sized(info, 2, k, "out", outer * inner),
                     outer, n, inner);
  return info.Env().Undefined();
}

}  // namespace

WEFT_BINDING("reduce", Reduce);

}  // namespace weft
