// The avx2fma build of the unary kernels (f32-unary-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-unary/f32-unary.h"
#include "kernels/simd/simd-avx2fma.h"

namespace weft {
namespace avx2fma {
#include "kernels/f32-unary/f32-unary-impl.inc"
}  // namespace avx2fma

extern const F32UnaryKernels f32Unary__avx2fma = {avx2fma::unary, avx2fma::unaryBackward};

}  // namespace weft
