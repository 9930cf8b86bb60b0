// Conversions between float32 and the 16-bit element types an all-reduce may send on the wire
// (bf16, f16): pack before a frame leaves, unpack (or unpack and add) when one lands. The ring
// runs them on every segment, so they must cost less than the bytes they save; a JavaScript loop
// does not (docs/distributed.md, Measurements).
//
// Note [wire rounding]: packing rounds to nearest, ties to even, in both formats; values too big
// for f16 become ±Inf, subnormals are kept (no flush to zero), and a NaN stays a NaN (bf16 sets
// the quiet bit, so a NaN whose payload lives in the dropped bits does not turn into Inf; f16 does
// what F16C's vcvtps2ph does: quiet bit set, payload truncated). Unpacking is exact. Every ISA
// variant gives the same bits as the scalar code, and so does the JavaScript fallback in
// src/dist/wire/convert-js.ts, because ranks built differently must still agree bit for bit.
#pragma once
#include <cstdint>

#include "kernels/isa-table.h"

namespace weft {

// The element type on the wire; the numbers are the frame flag values (src/dist/wire/wire-dtype.ts).
enum class WireKind : int { Bf16 = 1, F16 = 2 };

struct WireConvertKernels {
  // dst[i] = round(src[i]) as a 16-bit wire element (Note [wire rounding]).
  void (*pack)(WireKind kind, const float* src, uint16_t* dst, int64_t n);
  // dst[i] = the float32 value of src[i] (exact).
  void (*unpack)(WireKind kind, const uint16_t* src, float* dst, int64_t n);
  // dst[i] = dst[i] + value of src[i], one float32 rounding (the ring's reduce step).
  void (*unpackAdd)(WireKind kind, const uint16_t* src, float* dst, int64_t n);
};

WEFT_ISA_TABLE(WireConvertKernels, wireConvert)

}  // namespace weft
