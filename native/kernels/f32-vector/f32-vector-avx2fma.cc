// The avx2fma build of the vector kernels (f32-vector-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-vector/f32-vector.h"
#include "kernels/simd/simd-avx2fma.h"

namespace weft {
namespace avx2fma {
#include "kernels/f32-vector/f32-vector-impl.inc"
}  // namespace avx2fma

extern const F32VectorKernels f32Vector__avx2fma = {
    avx2fma::affine, avx2fma::fill, avx2fma::axpy, avx2fma::sumSquares, avx2fma::hasNonFinite, avx2fma::dropoutMask,
};

}  // namespace weft
