// The avx2fma build of the reductions (f32-reduce-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-reduce/f32-reduce.h"
#include "kernels/simd/simd-avx2fma.h"

namespace weft {
namespace avx2fma {
#include "kernels/f32-reduce/f32-reduce-impl.inc"
}  // namespace avx2fma

extern const F32ReduceKernels f32Reduce__avx2fma = {avx2fma::reduce};

}  // namespace weft
