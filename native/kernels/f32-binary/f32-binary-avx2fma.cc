// The avx2fma build of the binary row kernel (f32-binary-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-binary/f32-binary.h"
#include "kernels/simd/simd-avx2fma.h"

namespace weft {
namespace avx2fma {
#include "kernels/f32-binary/f32-binary-impl.inc"
}  // namespace avx2fma

extern const F32BinaryKernels f32BinaryRows__avx2fma = {avx2fma::binaryRow};

}  // namespace weft
