// The avx512 build of the strided row kernels (f32-strided-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-strided/f32-strided.h"
#include "kernels/simd/simd-avx512.h"

namespace weft {
namespace avx512 {
#include "kernels/f32-strided/f32-strided-impl.inc"
}  // namespace avx512

extern const F32StridedKernels f32StridedRows__avx512 = {avx512::copyRow, avx512::accumulateRow};

}  // namespace weft
