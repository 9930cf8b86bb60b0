// Per-thread scratch memory for the dense kernels: packed GEMM panels, im2col offsets, padded
// images. Buffers grow to the largest request seen and are kept, so a training loop allocates
// only in its first step (Note [kernel conventions]: never allocate in hot loops).
#pragma once
#include <cstddef>
#include <cstdint>

namespace weft {

// Each user of scratch memory owns a slot, so that nested users (a convolution calling GEMM)
// never hand out the same buffer twice.
enum class ScratchSlot : int {
  GemmPackedA = 0,
  GemmPackedB,
  ConvPackedWeight,
  ConvPackedColumns,
  ConvColumns,
  ConvImage,
  ConvOffsets,
  ConvRuns,
  WinogradWeights,
  WinogradProducts,
  WinogradGradients,
  Bf16PackedA,
  Bf16PackedB,
  Count,
};

// A 64-byte aligned buffer of at least `bytes` bytes, valid until the next call for the same slot
// on this thread. Its contents are unspecified.
void* scratchBytes(ScratchSlot slot, size_t bytes);

inline float* scratchFloats(ScratchSlot slot, size_t count) {
  return static_cast<float*>(scratchBytes(slot, count * sizeof(float)));
}
inline int32_t* scratchInts(ScratchSlot slot, size_t count) {
  return static_cast<int32_t*>(scratchBytes(slot, count * sizeof(int32_t)));
}

}  // namespace weft
