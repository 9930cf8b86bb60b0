// The avx512 build of the binary row kernel (f32-binary-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-binary/f32-binary.h"
#include "kernels/simd/simd-avx512.h"

namespace weft {
namespace avx512 {
#include "kernels/f32-binary/f32-binary-impl.inc"
}  // namespace avx512

extern const F32BinaryKernels f32BinaryRows__avx512 = {avx512::binaryRow};

}  // namespace weft
