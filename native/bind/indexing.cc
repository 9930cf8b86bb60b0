// Bindings of indexSelect, indexAdd and dropoutMask (argument order as in Backend).
#include <string>

#include "bind/args.h"
#include "bind/pointwise-args.h"
#include "kernels/f32-index/f32-index.h"
#include "kernels/f32-vector/f32-vector.h"
#include "registry.h"

namespace weft {

namespace {

// Every index must name a row of the table: checked before any row moves, so a bad batch leaves
// the output untouched. The message matches the reference backend's.
void checkIndices(const Napi::CallbackInfo& info, const char* k, const Span<int32_t>& index, int64_t rows) {
  for (size_t r = 0; r < index.length; r++) {
    if (index.data[r] < 0 || index.data[r] >= rows) {
      throw Napi::RangeError::New(info.Env(), std::string(k) + ": index " + std::to_string(index.data[r]) +
                                                  " at position " + std::to_string(r) + " is outside the table of " +
                                                  std::to_string(rows) + " rows; indices must be in [0, " +
                                                  std::to_string(rows) + ")");
    }
  }
}

// indexSelect(table, tableRows, index, out, cols)
Napi::Value IndexSelect(const Napi::CallbackInfo& info) {
  const char* k = "indexSelect";
  auto table = f32Arg(info, 0, k, "table");
  const int64_t rows = countArg(info, 1, k, "tableRows");
  auto index = i32Arg(info, 2, k, "index");
  auto out = f32Arg(info, 3, k, "out");
  const int64_t cols = countArg(info, 4, k, "cols");
  requireLength(info.Env(), table, rows * cols, k, "table");
  requireLength(info.Env(), out, index.length * cols, k, "out");
  checkIndices(info, k, index, rows);
  f32IndexSelect(table.data, index.data, static_cast<int64_t>(index.length), out.data, cols);
  return info.Env().Undefined();
}

// indexAdd(g, index, gtable, cols): the table has gtable.length / cols rows.
Napi::Value IndexAdd(const Napi::CallbackInfo& info) {
  const char* k = "indexAdd";
  auto g = f32Arg(info, 0, k, "g");
  auto index = i32Arg(info, 1, k, "index");
  auto gtable = f32Arg(info, 2, k, "gtable");
  const int64_t cols = countArg(info, 3, k, "cols");
  if (cols == 0) return info.Env().Undefined();
  requireLength(info.Env(), g, index.length * cols, k, "g");
  checkIndices(info, k, index, static_cast<int64_t>(gtable.length) / cols);
  f32IndexAdd(g.data, index.data, static_cast<int64_t>(index.length), gtable.data, cols);
  return info.Env().Undefined();
}

// dropoutMask(out, n, p, seed)
Napi::Value DropoutMask(const Napi::CallbackInfo& info) {
  const char* k = "dropoutMask";
  auto out = f32Arg(info, 0, k, "out");
  const int64_t n = countArg(info, 1, k, "n");
  requireLength(info.Env(), out, n, k, "out");
  // The seed is taken modulo 2^32, as JavaScript's `seed ^ x` does (ToInt32).
  const uint32_t seed = static_cast<uint32_t>(info[3].As<Napi::Number>().Int32Value());
  const double p = numArg(info, 2);
  f32Vector().dropoutMask(out.data, n, dropoutThreshold(p), static_cast<float>(1.0 / (1.0 - p)), seed);
  return info.Env().Undefined();
}

}  // namespace

WEFT_BINDING("indexSelect", IndexSelect);
WEFT_BINDING("indexAdd", IndexAdd);
WEFT_BINDING("dropoutMask", DropoutMask);

}  // namespace weft
