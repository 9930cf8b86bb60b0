// The epilogue of a GEMM: what a layer does to a product before anything else reads it (add a
// bias per column, add a residual, apply an activation), done by the GEMM driver on each block of
// C while that block is still in cache (Note [gemm epilogue] in f32-gemm/f32-gemm.h), instead of
// as separate passes over memory.
#pragma once
#include <cstddef>

#include "kernels/isa-table.h"

namespace weft {

// The index of a name in ACTIVATIONS (src/backend/backend.ts).
enum class Activation { None, Relu, Gelu, Count };

// v = (c + bias[j]) + residual[i, j]; c = act(v); derivative[i, j] = act'(v). Each term is
// optional (null); residual and derivative are laid out like C.
struct GemmEpilogue {
  const float* bias;
  const float* residual;
  Activation activation;
  float* derivative;
};

struct F32EpilogueKernels {
  // The epilogue on a rows x cols block whose first element is element (i0, j0) of C: c, residual
  // and derivative point at that element (row stride ld for all three), bias at bias[j0].
  void (*apply)(Activation act, const float* bias, const float* residual, float* derivative, float* c, int rows,
                int cols, ptrdiff_t ld);
};

WEFT_ISA_TABLE(F32EpilogueKernels, f32Epilogue)

}  // namespace weft
