// The scalar build of the optimizer steps (f32-optim-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-optim/f32-optim.h"
#include "kernels/simd/simd-scalar.h"

namespace weft {
namespace scalar {
#include "kernels/f32-optim/f32-optim-impl.inc"
}  // namespace scalar

extern const F32OptimKernels f32Optim__scalar = {scalar::sgdStep, scalar::adamStep};

}  // namespace weft
