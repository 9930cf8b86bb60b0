// The avx2fma build of the strided row kernels (f32-strided-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-strided/f32-strided.h"
#include "kernels/simd/simd-avx2fma.h"

namespace weft {
namespace avx2fma {
#include "kernels/f32-strided/f32-strided-impl.inc"
}  // namespace avx2fma

extern const F32StridedKernels f32StridedRows__avx2fma = {avx2fma::copyRow, avx2fma::accumulateRow};

}  // namespace weft
