// The avx512 build of the vector kernels (f32-vector-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-vector/f32-vector.h"
#include "kernels/simd/simd-avx512.h"

namespace weft {
namespace avx512 {
#include "kernels/f32-vector/f32-vector-impl.inc"
}  // namespace avx512

extern const F32VectorKernels f32Vector__avx512 = {
    avx512::affine, avx512::fill, avx512::axpy, avx512::sumSquares, avx512::hasNonFinite, avx512::dropoutMask,
};

}  // namespace weft
