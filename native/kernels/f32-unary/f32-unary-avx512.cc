// The avx512 build of the unary kernels (f32-unary-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-unary/f32-unary.h"
#include "kernels/simd/simd-avx512.h"

namespace weft {
namespace avx512 {
#include "kernels/f32-unary/f32-unary-impl.inc"
}  // namespace avx512

extern const F32UnaryKernels f32Unary__avx512 = {avx512::unary, avx512::unaryBackward};

}  // namespace weft
