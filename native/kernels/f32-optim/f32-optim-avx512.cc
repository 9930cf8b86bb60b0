// The avx512 build of the optimizer steps (f32-optim-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-optim/f32-optim.h"
#include "kernels/simd/simd-avx512.h"

namespace weft {
namespace avx512 {
#include "kernels/f32-optim/f32-optim-impl.inc"
}  // namespace avx512

extern const F32OptimKernels f32Optim__avx512 = {avx512::sgdStep, avx512::adamStep};

}  // namespace weft
