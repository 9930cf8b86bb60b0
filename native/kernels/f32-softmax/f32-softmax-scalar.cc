// The scalar build of the softmax family: Note [one body, three ISAs] in simd/simd-scalar.h.
#include "kernels/simd/simd-scalar.h"
#include "kernels/f32-softmax/f32-softmax.h"
#include "kernels/f32-softmax/f32-softmax-impl.inc"
