// Bindings of the wire conversions (kernels/wire-convert): packF32(src, dst, n, kind),
// unpackF32(src, dst, n, kind), unpackAddF32(src, dst, n, kind), with src/dst a Float32Array and
// a Uint16Array as the names say and kind 1 = bf16, 2 = f16 (the frame flag values).
#include <string>

#include "bind/args.h"
#include "bind/pointwise-args.h"
#include "kernels/wire-convert/wire-convert.h"
#include "registry.h"

namespace weft {

namespace {

WireKind kindArg(const Napi::CallbackInfo& info, size_t i, const char* kernel) {
  const int64_t code = intArg(info, i);
  if (code != static_cast<int64_t>(WireKind::Bf16) && code != static_cast<int64_t>(WireKind::F16)) {
    throw Napi::RangeError::New(info.Env(), std::string(kernel) + ": unknown wire element type " + std::to_string(code) +
                                                " (1 = bf16, 2 = f16)");
  }
  return static_cast<WireKind>(code);
}

uint16_t* u16Sized(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name, int64_t need) {
  const Span<uint16_t> s = u16Arg(info, i, kernel, name);
  requireLength(info.Env(), s, static_cast<size_t>(need), kernel, name);
  return s.data;
}

// packF32(src: Float32Array, dst: Uint16Array, n, kind)
Napi::Value PackF32(const Napi::CallbackInfo& info) {
  const char* k = "packF32";
  const int64_t n = countArg(info, 2, k, "n");
  const WireKind kind = kindArg(info, 3, k);
  wireConvert().pack(kind, f32Sized(info, 0, k, "src", n), u16Sized(info, 1, k, "dst", n), n);
  return info.Env().Undefined();
}

// unpackF32(src: Uint16Array, dst: Float32Array, n, kind)
Napi::Value UnpackF32(const Napi::CallbackInfo& info) {
  const char* k = "unpackF32";
  const int64_t n = countArg(info, 2, k, "n");
  const WireKind kind = kindArg(info, 3, k);
  wireConvert().unpack(kind, u16Sized(info, 0, k, "src", n), f32Sized(info, 1, k, "dst", n), n);
  return info.Env().Undefined();
}

// unpackAddF32(src: Uint16Array, dst: Float32Array, n, kind): dst += unpacked src
Napi::Value UnpackAddF32(const Napi::CallbackInfo& info) {
  const char* k = "unpackAddF32";
  const int64_t n = countArg(info, 2, k, "n");
  const WireKind kind = kindArg(info, 3, k);
  wireConvert().unpackAdd(kind, u16Sized(info, 0, k, "src", n), f32Sized(info, 1, k, "dst", n), n);
  return info.Env().Undefined();
}

}  // namespace

WEFT_BINDING("packF32", PackF32);
WEFT_BINDING("unpackF32", UnpackF32);
WEFT_BINDING("unpackAddF32", UnpackAddF32);

}  // namespace weft
