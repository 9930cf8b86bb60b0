// The avx2fma build of the optimizer steps (f32-optim-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-optim/f32-optim.h"
#include "kernels/simd/simd-avx2fma.h"

namespace weft {
namespace avx2fma {
#include "kernels/f32-optim/f32-optim-impl.inc"
}  // namespace avx2fma

extern const F32OptimKernels f32Optim__avx2fma = {avx2fma::sgdStep, avx2fma::adamStep};

}  // namespace weft
