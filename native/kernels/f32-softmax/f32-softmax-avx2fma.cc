// The avx2fma build of the softmax family (f32-softmax-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-softmax/f32-softmax.h"
#include "kernels/simd/simd-avx2fma.h"

namespace weft {
namespace avx2fma {
#include "kernels/f32-softmax/f32-softmax-impl.inc"
}  // namespace avx2fma

extern const F32SoftmaxKernels f32Softmax__avx2fma = {
    avx2fma::softmax,      avx2fma::logSoftmax,   avx2fma::softmaxBackward,
    avx2fma::logSoftmaxBackward, avx2fma::crossEntropy, avx2fma::crossEntropyBackward,
};

}  // namespace weft
