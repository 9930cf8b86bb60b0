// The scalar build of the binary row kernel (f32-binary-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-binary/f32-binary.h"
#include "kernels/simd/simd-scalar.h"

namespace weft {
namespace scalar {
#include "kernels/f32-binary/f32-binary-impl.inc"
}  // namespace scalar

extern const F32BinaryKernels f32BinaryRows__scalar = {scalar::binaryRow};

}  // namespace weft
