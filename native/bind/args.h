// Argument unpacking for the bindings. Every check here turns a caller's mistake into a
// JavaScript exception naming the kernel and the argument, instead of a crash in a hot loop.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace weft {

template <typename T>
struct Span {
  T* data = nullptr;
  size_t length = 0;
};

[[noreturn]] inline void throwArg(Napi::Env env, const char* kernel, const char* what) {
  throw Napi::TypeError::New(env, std::string(kernel) + ": " + what);
}

template <typename T, napi_typedarray_type Kind>
Span<T> typedArg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name, bool nullable) {
  Napi::Value v = info[i];
  if (nullable && (v.IsNull() || v.IsUndefined())) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != Kind) {
    throwArg(info.Env(), kernel,
             (std::string("argument ") + name + " must be a " +
              (Kind == napi_float32_array ? "Float32Array" : Kind == napi_uint16_array ? "Uint16Array" : "Int32Array"))
                 .c_str());
  }
  auto arr = v.As<Napi::TypedArrayOf<T>>();
  return {arr.Data(), arr.ElementLength()};
}

inline Span<float> f32Arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name) {
  return typedArg<float, napi_float32_array>(info, i, kernel, name, false);
}
inline Span<float> f32OrNull(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name) {
  return typedArg<float, napi_float32_array>(info, i, kernel, name, true);
}
inline Span<uint16_t> u16Arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name) {
  return typedArg<uint16_t, napi_uint16_array>(info, i, kernel, name, false);
}
inline Span<int32_t> i32Arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name) {
  return typedArg<int32_t, napi_int32_array>(info, i, kernel, name, false);
}

inline double numArg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().DoubleValue(); }
inline int64_t intArg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }
inline bool boolArg(const Napi::CallbackInfo& info, size_t i) { return info[i].ToBoolean().Value(); }
inline std::string strArg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::String>().Utf8Value(); }

inline int64_t intProp(const Napi::Object& o, const char* key) { return o.Get(key).As<Napi::Number>().Int64Value(); }
inline double numProp(const Napi::Object& o, const char* key) { return o.Get(key).As<Napi::Number>().DoubleValue(); }
inline bool boolProp(const Napi::Object& o, const char* key) { return o.Get(key).ToBoolean().Value(); }

// Throws a RangeError unless `span` holds at least `need` elements.
template <typename T>
void requireLength(Napi::Env env, const Span<T>& span, size_t need, const char* kernel, const char* name) {
  if (span.length < need) {
    throw Napi::RangeError::New(env, std::string(kernel) + ": " + name + " holds " + std::to_string(span.length) +
                                         " elements but the shapes given need " + std::to_string(need));
  }
}

}  // namespace weft
