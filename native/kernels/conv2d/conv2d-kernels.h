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

// Note [direct convolution]: with few taps (the first layer of a network on one input channel:
// 9 taps for 3x3), the GEMM formulation multiplies thin matrices (depth 9, or 9 columns) and
// spends its time packing and storing. Stride-1 convolutions with at most maxTaps taps instead
// keep one input vector per tap in registers and sweep the output channels (forward), or keep
// one accumulator per tap and sweep the pixels (weight gradient). Both read the image (already
// zero padded) at tapOffset[t] + y * pw + x, and need ow >= 8.
struct ConvDirectKernels {
  int maxTaps;
  // out (oc, oh, ow) = bias (may be null) + the convolution of one image.
  void (*forward)(const float* image, int pw, const int32_t* tapOffset, int taps, int oh, int ow, const float* weight,
                  const float* bias, int oc, float* out);
  // acc (oc, taps + 1, 8) += lane-wise partial sums, over this image, of gy * x at each tap (and,
  // as tap `taps`, of gy alone: the bias gradient). The caller sums the 8 lanes at the end.
  void (*backwardWeight)(const float* image, int pw, const int32_t* tapOffset, int taps, int oh, int ow,
                         const float* gy, int oc, float* acc);
};

constexpr int kDirectLanes = 8;

// AVX2 only; AVX-512 CPUs run these too (the thin products gain nothing from wider vectors).
const ConvDirectKernels& convDirectKernels__avx2fma();

// The transforms of Winograd's F(2x2, 3x3) (Note [Winograd convolution] in conv2d-winograd.cc). A
// tile is 2x2 outputs, read from a 4x4 input window at (2 ty, 2 tx) of the zero-padded image; its
// 16 transformed values are indexed xi = 4 i + k. Transformed matrices are stored as rows of
// tiles: element (xi, channel r, tile n) at buf[r * ld + xi * xiStride + n], where tile row ty of
// the current image segment starts at n = n0 + (ty - ty0) * tilesW. A kernel may write up to 8
// floats of garbage past the last tile of a row (xiStride must leave room).
struct WinogradKernels {
  // V = B^T d B for every channel (row r = channel) of `rows` tile rows from ty0 of one padded
  // image (channels of ph * pw floats, row pitch pw); may read 32 floats past the image.
  void (*inputTransform)(const float* image, int channels, size_t channelStride, int pw, int tilesW, int ty0, int rows,
                         float* v, size_t xiStride, size_t ld, int n0);
  // out (oc planes of oh x ow) = A^T m A (+ bias[o] unless null) for the tiles of `rows` tile rows
  // from ty0 of one image (row r of m = output channel).
  void (*outputTransform)(const float* m, size_t xiStride, size_t ld, int oc, int tilesW, int ty0, int rows, int n0,
                          const float* bias, float* out, int oh, int ow);
  // D = A dY A^T for every channel of the gradient gy (oc planes of oh x ow), outputs outside the
  // planes counting as 0: the gradient with respect to the transformed weights is D .* V.
  void (*gradientTransform)(const float* gy, int oc, int oh, int ow, int tilesW, int ty0, int rows, float* d,
                            size_t xiStride, size_t ld, int n0);
};

const WinogradKernels& winogradKernels__avx2fma();

const ConvKernels& convKernels__scalar();
const ConvKernels& convKernels__avx2fma();
const ConvKernels& convKernels__avx512();
const ConvKernels& activeConvKernels();

}  // namespace weft
