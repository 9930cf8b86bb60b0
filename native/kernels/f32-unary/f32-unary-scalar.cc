// The scalar build of the unary kernels (f32-unary-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-unary/f32-unary.h"
#include "kernels/simd/simd-scalar.h"

namespace weft {
namespace scalar {
#include "kernels/f32-unary/f32-unary-impl.inc"
}  // namespace scalar

extern const F32UnaryKernels f32Unary__scalar = {scalar::unary, scalar::unaryBackward};

}  // namespace weft
