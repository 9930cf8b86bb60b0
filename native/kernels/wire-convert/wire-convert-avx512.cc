// The AVX-512 build of the wire conversions: the same 256-bit loops as AVX2. The conversions move
// two bytes per element through memory and a segment is hot in cache, so wider vectors would
// change little; this file exists because every kernel family has one table per ISA.
#define WEFT_ISA avx512
#include "kernels/wire-convert/wire-convert.h"
#include "kernels/wire-convert/wire-convert-impl.inc"
