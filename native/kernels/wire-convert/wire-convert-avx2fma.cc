// The AVX2 + F16C build of the wire conversions (Note [wire rounding] in wire-convert.h).
#define WEFT_ISA avx2fma
#include "kernels/wire-convert/wire-convert.h"
#include "kernels/wire-convert/wire-convert-impl.inc"
