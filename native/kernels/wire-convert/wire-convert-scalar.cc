// The scalar build of the wire conversions (Note [wire rounding] in wire-convert.h).
#define WEFT_ISA scalar
#include "kernels/wire-convert/wire-convert.h"
#include "kernels/wire-convert/wire-convert-impl.inc"
