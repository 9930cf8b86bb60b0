// Bindings of the bf16 GEMM's path controls (kernels/bf16-gemm/bf16-gemm.h): bf16Path() names
// the path in use, bf16Paths() every path this CPU has (emulated first), setBf16Path(name)
// lowers the path for tests and returns false, changing nothing, when the CPU lacks it (and
// selects the portable layout checks, dot-layout and tile-layout).
#include <napi.h>

#include <string>

#include "kernels/bf16-gemm/bf16-gemm.h"
#include "registry.h"

namespace weft {

namespace {

constexpr Bf16Path kPaths[] = {Bf16Path::Emulated, Bf16Path::Avx512Bf16, Bf16Path::Amx};
// What setBf16Path takes: the paths, and the layout checks that tests select on any CPU
// (bf16-gemm.h), which bf16Paths never lists.
constexpr Bf16Path kSettable[] = {Bf16Path::Emulated, Bf16Path::Avx512Bf16, Bf16Path::Amx, Bf16Path::DotLayout,
                                  Bf16Path::TileLayout};

Napi::Value ActiveBf16Path(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), bf16PathName(activeBf16Path()));
}

Napi::Value Bf16Paths(const Napi::CallbackInfo& info) {
  Napi::Array out = Napi::Array::New(info.Env());
  uint32_t count = 0;
  for (Bf16Path path : kPaths) {
    if (bf16PathSupported(path)) out.Set(count++, Napi::String::New(info.Env(), bf16PathName(path)));
  }
  return out;
}

Napi::Value SetBf16Path(const Napi::CallbackInfo& info) {
  const std::string name = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  for (Bf16Path path : kSettable) {
    if (name == bf16PathName(path)) return Napi::Boolean::New(info.Env(), setActiveBf16Path(path));
  }
  throw Napi::TypeError::New(info.Env(), "setBf16Path: expected emulated, avx512bf16, amx, dot-layout or tile-layout, got \"" + name + "\"");
}

}  // namespace

WEFT_BINDING("bf16Path", ActiveBf16Path);
WEFT_BINDING("bf16Paths", Bf16Paths);
WEFT_BINDING("setBf16Path", SetBf16Path);

}  // namespace weft
