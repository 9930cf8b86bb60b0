// The scalar build of the strided row kernels (f32-strided-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-strided/f32-strided.h"
#include "kernels/simd/simd-scalar.h"

namespace weft {
namespace scalar {
#include "kernels/f32-strided/f32-strided-impl.inc"
}  // namespace scalar

extern const F32StridedKernels f32StridedRows__scalar = {scalar::copyRow, scalar::accumulateRow};

}  // namespace weft
