// The avx2fma build of the normalisation kernels (f32-norm-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-norm/f32-norm.h"
#include "kernels/simd/simd-avx2fma.h"

namespace weft {
namespace avx2fma {
#include "kernels/f32-norm/f32-norm-impl.inc"
}  // namespace avx2fma

extern const F32NormKernels f32Norm__avx2fma = {
    avx2fma::layerNorm, avx2fma::layerNormBackward, avx2fma::batchNorm, avx2fma::batchNormBackward,
};

}  // namespace weft
