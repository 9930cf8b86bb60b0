// The avx512 build of the normalisation kernels (f32-norm-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-norm/f32-norm.h"
#include "kernels/simd/simd-avx512.h"

namespace weft {
namespace avx512 {
#include "kernels/f32-norm/f32-norm-impl.inc"
}  // namespace avx512

extern const F32NormKernels f32Norm__avx512 = {
    avx512::layerNorm, avx512::layerNormBackward, avx512::batchNorm, avx512::batchNormBackward,
};

}  // namespace weft
