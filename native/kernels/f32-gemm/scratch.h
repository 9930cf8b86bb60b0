// Per-thread scratch memory for the dense kernels: packed GEMM panels and im2col columns.
// Buffers grow to the largest request seen and are kept, so a training loop allocates only in
// its first step (Note [kernel conventions]: never allocate in hot loops).
#pragma once
#include <cstddef>

namespace weft {

// Each user of scratch memory owns a slot, so that nested users (a convolution calling GEMM)
// never hand out the same buffer twice.
enum class ScratchSlot : int {
  GemmPackedA = 0,
  GemmPackedB,
  ConvPackedWeight,
  ConvPackedColumns,
  ConvColumns,
  Count,
};

// A 64-byte aligned buffer of at least `count` floats, valid until the next call for the same slot
// on this thread. Its contents are unspecified.
float* scratchFloats(ScratchSlot slot, size_t count);

}  // namespace weft
