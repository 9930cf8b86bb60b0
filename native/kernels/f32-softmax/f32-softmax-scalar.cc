// The scalar build of the softmax family (f32-softmax-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-softmax/f32-softmax.h"
#include "kernels/simd/simd-scalar.h"

namespace weft {
namespace scalar {
#include "kernels/f32-softmax/f32-softmax-impl.inc"
}  // namespace scalar

extern const F32SoftmaxKernels f32Softmax__scalar = {
    scalar::softmax,      scalar::logSoftmax,   scalar::softmaxBackward,
    scalar::logSoftmaxBackward, scalar::crossEntropy, scalar::crossEntropyBackward,
};

}  // namespace weft
