// GEMM with bfloat16 inputs and float32 accumulation, as under PyTorch's autocast: C = alpha *
// op(A) * op(B) + beta * C, where every element of A and B is first rounded to bf16 (nearest,
// ties to even; Note [wire rounding] in wire-convert/wire-convert.h), each product of two bf16
// values is formed exactly and the sums are kept in float32. C, alpha, beta and the epilogue are
// float32, exactly as in weft_f32_gemm (f32-gemm/f32-gemm.h), whose arguments this takes.
//
// Note [bf16 gemm paths]: three paths compute the same mathematical product.
// - emulated: A and B rounded to bf16 and widened back to float32 (exact), then the float32
//   GEMM of the active ISA. A bf16 x bf16 product has at most 16 significant bits, so float32
//   holds it exactly and the FMA kernels add it with one rounding, as the hardware does. Runs on
//   every CPU; it defines what the other two compute, and is what the tests compare them with.
// - avx512bf16: VDPBF16PS adds two bf16 products into each float32 lane per instruction.
// - amx: TDPBF16PS multiplies a 16 x 32 bf16 tile by a 32 x 16 one into 16 x 16 float32 sums.
// The hardware paths treat bf16 subnormals (below 2^-126) as zero and flush subnormal sums to
// zero, and may add a pair of products in a different order than the emulated path: their
// results agree with it within float32 accumulation error, not bit for bit. The emulated path is
// slower than plain float32 (it rounds both operands first), so training uses bf16 only where a
// hardware path exists (src/tensor/autocast.ts says when).
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/f32-gemm/f32-gemm.h"

namespace weft {

// DotLayout and TileLayout are for tests only: the avx512bf16 and amx drivers with their
// instructions interpreted in portable code (bf16-gemm-layouts-scalar.cc), on any CPU.
enum class Bf16Path { Emulated = 0, Avx512Bf16 = 1, Amx = 2, DotLayout = 3, TileLayout = 4 };

// The fastest path this CPU and OS support (AMX needs the kernel's permission to use tile data,
// asked for once here).
Bf16Path detectedBf16Path();
// The path weft_bf16_gemm takes now: detectedBf16Path() unless lowered by WEFT_BF16
// (emulated, avx512bf16 or amx) or by setActiveBf16Path.
Bf16Path activeBf16Path();
// Whether this CPU and OS can run `path` (emulated and the layout checks: always).
bool bf16PathSupported(Bf16Path path);
// Returns false, changing nothing, when the CPU lacks `path`.
bool setActiveBf16Path(Bf16Path path);
const char* bf16PathName(Bf16Path path);

// A matrix of bf16 values seen through strides, like MatrixView.
struct Bf16View {
  const uint16_t* data;
  ptrdiff_t rowStride;
  ptrdiff_t colStride;
};

// One product for a hardware path: op(A) is m x k, op(B) k x n, both already rounded to bf16.
struct Bf16GemmCall {
  Bf16View a, b;
  int m, n, k;
  float alpha, beta;
  float* c;
  ptrdiff_t ldc;
  const GemmEpilogue* epilogue;
};

void weft_bf16_gemm__avx512bf16(const Bf16GemmCall& call);
void weft_bf16_gemm__amx(const Bf16GemmCall& call);
void weft_bf16_gemm__dot_layout(const Bf16GemmCall& call);
void weft_bf16_gemm__tile_layout(const Bf16GemmCall& call);

// The BLAS-style entry point, on the active path (arguments as weft_f32_gemm's).
void weft_bf16_gemm(bool transA, bool transB, int m, int n, int k, float alpha, const float* a, int lda,
                    const float* b, int ldb, float beta, float* c, int ldc, const GemmEpilogue* epilogue = nullptr);

}  // namespace weft
