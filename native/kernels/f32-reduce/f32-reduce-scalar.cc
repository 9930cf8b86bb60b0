// The scalar build of the reductions (f32-reduce-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-reduce/f32-reduce.h"
#include "kernels/simd/simd-scalar.h"

namespace weft {
namespace scalar {
#include "kernels/f32-reduce/f32-reduce-impl.inc"
}  // namespace scalar

extern const F32ReduceKernels f32Reduce__scalar = {scalar::reduce};

}  // namespace weft
