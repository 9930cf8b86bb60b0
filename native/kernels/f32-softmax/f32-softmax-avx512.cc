// The avx512 build of the softmax family (f32-softmax-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-softmax/f32-softmax.h"
#include "kernels/simd/simd-avx512.h"

namespace weft {
namespace avx512 {
#include "kernels/f32-softmax/f32-softmax-impl.inc"
}  // namespace avx512

extern const F32SoftmaxKernels f32Softmax__avx512 = {
    avx512::softmax,      avx512::logSoftmax,   avx512::softmaxBackward,
    avx512::logSoftmaxBackward, avx512::crossEntropy, avx512::crossEntropyBackward,
};

}  // namespace weft
