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

// The transforms of Winograd's F(4x4, 3x3) (Note [Winograd convolution] in conv2d-winograd.cc),
// eight images at a time, one per vector lane. A group of 8 images is first interleaved: element
// (channel, y, x) of image l at g[((channel * gh + y) * gw + x) * 8 + l]. A tile is 4x4 outputs,
// read from the 6x6 window at (4 ty, 4 tx); its 36 transformed values are indexed xi = 6 i + k.
// Transformed matrices are stored as rows of tile-lanes: element (channel r, xi, tile, lane) at
// buf[r * ld + xi * xiStride + n0 + ((ty - ty0) * tilesW + tx) * 8 + lane] for tile rows
// [ty0, ty0 + rows) of the group.
struct WinogradKernels {
  // g (channels, gh, gw, 8) = images src[0..count) (channels planes of h x w each) placed at
  // (top, left), zero elsewhere and in lanes count..7.
  void (*interleave)(const float* const* src, int count, int channels, int h, int w, int top, int left, int gh,
                     int gw, float* g);
  // V = B^T d B for every channel of an interleaved, padded input group (gh, gw >= 4 tiles + 2).
  // With nr > 0, each xi's matrix is instead written as packed GEMM B panels (GemmKernels::packB's
  // layout, panels nr wide, panelStride apart): (channel r, column n) at
  // v[xi * xiStride + n / nr * panelStride + r * nr + n % nr], and ld is not used.
  void (*inputTransform)(const float* g, int channels, int gh, int gw, int tilesW, int ty0, int rows, float* v,
                         size_t xiStride, size_t ld, int n0, int nr, size_t panelStride);
  // out = A^T m A (+ bias[o] unless null): output channel o of image lane l < count goes to
  // out + l * imageStride + o * oh * ow, cropped to oh x ow.
  void (*outputTransform)(const float* m, size_t xiStride, size_t ld, int oc, int tilesW, int ty0, int rows, int n0,
                          const float* bias, float* out, size_t imageStride, int count, int oh, int ow);
  // D = A dY A^T for every channel of an interleaved output-gradient group (gh = 4 tilesH,
  // gw = 4 tilesW, zero past the output): the weight gradient's transform is sum D .* V.
  void (*gradientTransform)(const float* g, int oc, int gh, int gw, int tilesW, int ty0, int rows, float* d,
                            size_t xiStride, size_t ld, int n0);
};

const WinogradKernels& winogradKernels__avx2fma();

const ConvKernels& convKernels__scalar();
const ConvKernels& convKernels__avx2fma();
const ConvKernels& convKernels__avx512();
const ConvKernels& activeConvKernels();

}  // namespace weft
