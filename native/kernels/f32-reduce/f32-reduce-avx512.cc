// The avx512 build of the reductions (f32-reduce-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-reduce/f32-reduce.h"
#include "kernels/simd/simd-avx512.h"

namespace weft {
namespace avx512 {
#include "kernels/f32-reduce/f32-reduce-impl.inc"
}  // namespace avx512

extern const F32ReduceKernels f32Reduce__avx512 = {avx512::reduce};

}  // namespace weft
