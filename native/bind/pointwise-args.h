// Argument checks shared by the bindings of the pointwise kernels: counts, operation codes, and
// for the strided kernels (binary, copyStrided, accumulateStrided) a shape of rank <= 8 and
// strided views that stay inside their buffers.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "bind/args.h"
#include "kernels/f32-strided/strided-loop.h"

namespace weft {

inline int64_t countArg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name) {
  const int64_t n = intArg(info, i);
  if (n < 0) throwArg(info.Env(), kernel, (std::string(name) + " must not be negative").c_str());
  return n;
}

// The operation code at argument 0: an index into UNARY_OPS, BINARY_OPS or REDUCE_OPS.
template <class Op>
Op opArg(const Napi::CallbackInfo& info, const char* kernel) {
  const int64_t code = intArg(info, 0);
  if (code < 0 || code >= static_cast<int64_t>(Op::Count)) {
    throw Napi::RangeError::New(info.Env(), std::string(kernel) + ": unknown operation code " + std::to_string(code));
  }
  return static_cast<Op>(code);
}

// Argument i as a Float32Array of at least `need` elements; a RangeError names it otherwise.
inline float* f32Sized(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name, int64_t need) {
  const Span<float> s = f32Arg(info, i, kernel, name);
  requireLength(info.Env(), s, static_cast<size_t>(need), kernel, name);
  return s.data;
}
// The same for an argument that may be null (returned as nullptr).
inline float* f32SizedOrNull(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name,
                             int64_t need) {
  const Span<float> s = f32OrNull(info, i, kernel, name);
  if (s.data != nullptr) requireLength(info.Env(), s, static_cast<size_t>(need), kernel, name);
  return s.data;
}
inline int32_t* i32Sized(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name, int64_t need) {
  const Span<int32_t> s = i32Arg(info, i, kernel, name);
  requireLength(info.Env(), s, static_cast<size_t>(need), kernel, name);
  return s.data;
}

struct ShapeArg {
  const int32_t* dims = nullptr;
  int rank = 0;
  int64_t size = 1;  // number of elements
};

inline ShapeArg shapeArg(const Napi::CallbackInfo& info, size_t i, const char* kernel) {
  const Span<int32_t> s = i32Arg(info, i, kernel, "shape");
  if (s.length > static_cast<size_t>(kMaxRank)) {
    throw Napi::RangeError::New(info.Env(), std::string(kernel) + ": shape has rank " + std::to_string(s.length) +
                                                ", more than the " + std::to_string(kMaxRank) + " supported");
  }
  ShapeArg shape{s.data, static_cast<int>(s.length), 1};
  for (int d = 0; d < shape.rank; d++) {
    if (s.data[d] < 0) throwArg(info.Env(), kernel, "shape has a negative dimension");
    shape.size *= s.data[d];
  }
  return shape;
}

// Reads the strides at argument i (one per axis, non-negative) into `out`, and checks that every
// element of the view (offset + sum(idx_d * stride_d)) lies inside a buffer of `length`.
inline void viewArg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name,
                    const ShapeArg& shape, int64_t offset, size_t length, int64_t* out) {
  const Span<int32_t> s = i32Arg(info, i, kernel, name);
  if (s.length != static_cast<size_t>(shape.rank)) {
    throw Napi::RangeError::New(info.Env(), std::string(kernel) + ": " + name + " has " + std::to_string(s.length) +
                                                " entries for a shape of rank " + std::to_string(shape.rank));
  }
  if (offset < 0) throwArg(info.Env(), kernel, (std::string(name) + " comes with a negative offset").c_str());
  int64_t last = offset;
  for (int d = 0; d < shape.rank; d++) {
    if (s.data[d] < 0) throwArg(info.Env(), kernel, (std::string(name) + " has a negative stride").c_str());
    out[d] = s.data[d];
    last += static_cast<int64_t>(shape.dims[d] - 1) * s.data[d];
  }
  if (shape.size > 0 && static_cast<size_t>(last) >= length) {
    throw Napi::RangeError::New(info.Env(), std::string(kernel) + ": the view with " + name + " reaches element " +
                                                std::to_string(last) + " of a buffer of " + std::to_string(length));
  }
}

// The strided view at arguments (buffer, offset, strides) = (i, i + 1, i + 2) (in-range checked as
// viewArg does); returns the buffer advanced by the offset and fills `strides`.
inline float* stridedViewArg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* buffer,
                             const char* stridesName, const ShapeArg& shape, int64_t* strides) {
  const Span<float> x = f32Arg(info, i, kernel, buffer);
  const int64_t offset = intArg(info, i + 1);
  viewArg(info, i + 2, kernel, stridesName, shape, offset, x.length, strides);
  return x.data + offset;
}

}  // namespace weft
