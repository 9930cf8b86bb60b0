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
      const std::string n = std::to_string(rows);
      throw Napi::RangeError::New(info.Env(), std::string(k) + ": index " + std::to_string(index.data[r]) +
                                                  " at position " + std::to_string(r) + " is outside the table of " +
                                                  n + " rows; indices must be in [0, " + n + ")");
    }
  }
}

// indexSelect(table, tableRows, index, out, cols)
Napi::Value IndexSelect(const Napi::CallbackInfo& info) {
  const char* k = "indexSelect";
  const int64_t rows = countArg(info, 1, k, "tableRows"), cols = countArg(info, 4, k, "cols");
  const Span<int32_t> index = i32Arg(info, 2, k, "index");
  const int64_t count = static_cast<int64_t>(index.length);
  const float* table = f32Sized(info, 0, k, "table", rows * cols);
  float* out = f32Sized(info, 3, k, "out", count * cols);
  checkIndices(info, k, index, rows);
  f32IndexSelect(table, index.data, count, out, cols);
  return info.Env().Undefined();
}

// indexAdd(g, index, gtable, cols): the table has gtable.length / cols rows.
Napi::Value IndexAdd(const Napi::CallbackInfo& info) {
  const char* k = "indexAdd";
  const int64_t cols = countArg(info, 3, k, "cols");
  if (cols == 0) return info.Env().Undefined();
  const Span<int32_t> index = i32Arg(info, 1, k, "index");
  const int64_t count = static_cast<int64_t>(index.length);
  const float* g = f32Sized(info, 0, k, "g", count * cols);
  const Span<float> gtable = f32Arg(info, 2, k, "gtable");
  checkIndices(info, k, index, static_cast<int64_t>(gtable.length) / cols);
  f32IndexAdd(g, index.data, count, gtable.data, cols);
  return info.Env().Undefined();
}

// dropoutMask(out, n, p, seed)
Napi::Value DropoutMask(const Napi::CallbackInfo& info) {
  const char* k = "dropoutMask";
  const int64_t n = countArg(info, 1, k, "n");
  float* out = f32Sized(info, 0, k, "out", n);
  const double p = numArg(info, 2);
  // The seed is taken modulo 2^32, as JavaScript's `seed ^ x` does (ToInt32).
  const uint32_t seed = static_cast<uint32_t>(info[3].As<Napi::Number>().Int32Value());
  f32Vector().dropoutMask(out, n, dropoutThreshold(p), static_cast<float>(1.0 / (1.0 - p)), seed);
  return info.Env().Undefined();
}

}  // namespace

WEFT_BINDING("indexSelect", IndexSelect);
WEFT_BINDING("indexAdd", IndexAdd);
WEFT_BINDING("dropoutMask", DropoutMask);

}  // namespace weft
