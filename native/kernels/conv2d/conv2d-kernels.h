// The instruction-set specific data movement of the convolutions (Note [convolution as GEMM] in
// conv2d.cc): gathering image pixels straight into packed GEMM panels (im2col without the
// intermediate matrix), and adding column gradients back onto an image (col2im).
//
// Both describe a k x n matrix by offsets: element (l, j) lives at base[rowOffset[l] + colOffset[j]].
// Runs of consecutive colOffset values (an output row of pixels, a kernel row of taps) are moved
// as vectors; anything else element by element.
#pragma once
#include <cstddef>
#include <cstdint>

namespace weft {

struct ConvKernels {
  // Packs B(l, j) = base[rowOffset[l] + colOffset[j]] for l < k, j < n into panels nr wide:
  // out[p * panelStride + l * nr + j] for column p * nr + j, columns past n zero. nr is the GEMM's
  // (a multiple of the vector width). Reads only the addressed elements.
  void (*packGather)(const float* base, const int32_t* rowOffset, int k, const int32_t* colOffset, int n, int nr,
                     size_t panelStride, float* out);
  // base[rowOffset[l] + colOffset[j]] += src[l * ld + j] for l < k, j < n, in order of l. May
  // rewrite (unchanged) up to kScatterSlack floats past the last element of each run, so base
  // must be scratch memory with that much room after every element it receives.
  void (*scatterAdd)(const float* src, ptrdiff_t ld, int k, int n, const int32_t* rowOffset, const int32_t* colOffset,
                     float* base);
};

constexpr int kScatterSlack = 16;

const ConvKernels& convKernels__scalar();
const ConvKernels& convKernels__avx2fma();
const ConvKernels& convKernels__avx512();
const ConvKernels& activeConvKernels();

}  // namespace weft
