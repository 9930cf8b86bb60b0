// The scalar build of the attention family: Note [one body, three ISAs] in simd/simd-scalar.h.
#include "kernels/simd/simd-scalar.h"
#include "kernels/f32-attention/f32-attention.h"
#include "kernels/f32-attention/f32-attention-impl.inc"
