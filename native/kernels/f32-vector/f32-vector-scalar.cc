// The scalar build of the vector kernels (f32-vector-impl.inc; Note [one body, three ISAs]).
#include "kernels/f32-vector/f32-vector.h"
#include "kernels/simd/simd-scalar.h"

namespace weft {
namespace scalar {
#include "kernels/f32-vector/f32-vector-impl.inc"
}  // namespace scalar

extern const F32VectorKernels f32Vector__scalar = {
    scalar::affine, scalar::fill, scalar::axpy, scalar::sumSquares, scalar::hasNonFinite, scalar::dropoutMask,
};

}  // namespace weft
