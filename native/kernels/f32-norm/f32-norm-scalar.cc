// The scalar build of the normalisation kernels (f32-norm-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-norm/f32-norm.h"
#include "kernels/simd/simd-scalar.h"

namespace weft {
namespace scalar {
#include "kernels/f32-norm/f32-norm-impl.inc"
}  // namespace scalar

extern const F32NormKernels f32Norm__scalar = {
    scalar::layerNorm, scalar::layerNormBackward, scalar::batchNorm, scalar::batchNormBackward,
};

}  // namespace weft
