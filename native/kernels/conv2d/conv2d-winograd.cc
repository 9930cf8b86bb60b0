// Note [Winograd convolution]: F(4x4, 3x3) (Lavin and Gray, 2016) computes a 4x4 tile of a 3x3
// convolution from the 6x6 input window d under it as
//   Y = A^T [ (G g G^T) .* (B^T d B) ] A,
// with the constant matrices below, so 36 multiplications replace 144. Over channels, the .*
// becomes 36 independent GEMMs, one per position xi of the 6x6 transformed tile:
//   M[xi] (oc x tiles) = U[xi] (oc x c) * V[xi] (c x tiles),  U = G g G^T,  V = B^T d B,
// and then Y = A^T M A per tile. The weight gradient runs the same algebra backwards:
//   dU[xi] (oc x c) = sum over tiles of D[xi] (oc x tiles) * V[xi]^T,  D = A dY A^T,
//   dg = G^T dU G,
// and the input gradient of a stride-1 3x3 convolution is itself such a convolution: of gy,
// padded by 2 - pad, with the kernels flipped and their channel axes swapped.
//
// The transforms (WinogradKernels) work on eight images at once, one per vector lane, so they are
// plain vector arithmetic whatever the image size; the GEMMs are the same packed kernels as
// everywhere else. Work goes in chunks of whole tile rows of 8-image groups, about 128 to 256
// tile-lanes, so that a chunk's transformed inputs and products stay near the core. Tiles hanging
// over the output's edge read zero padding; their extra outputs are dropped (their gradients are 0).
// Rounding: the transforms scale values by up to about 100 (the 8s and 1/24s below), which costs
// a few bits against F(2x2, 3x3) but is far inside float32's margin for training (measured in
// test/backend/dense-parity.test.ts: up to about 20 eps of the sum of |terms|).
//
//   B^T = [4  0 -5  0  1  0]   G = [ 1/4     0     0 ]   A^T = [1  1  1  1  1  0]
//         [0 -4 -4  1  1  0]       [-1/6  -1/6  -1/6 ]         [0  1 -1  2 -2  0]
//         [0  4 -4 -1  1  0]       [-1/6   1/6  -1/6 ]         [0  1  1  4  4  0]
//         [0 -2 -1  2  1  0]       [1/24  1/12   1/6 ]         [0  1 -1  8 -8  1]
//         [0  2 -1 -2  1  0]       [1/24 -1/12   1/6 ]
//         [0  4  0 -5  0  1]       [  0     0     1  ]
#include "conv2d-winograd.h"

#include <algorithm>
#include <cstring>

#include "conv2d-kernels.h"
#include "cpu.h"
#include "kernels/f32-gemm/f32-gemm.h"
#include "kernels/f32-gemm/scratch.h"

namespace weft {

namespace {

constexpr int kPositions = 36;  // xi = 6 i + k over the 6x6 transformed tile
constexpr int kLanes = 8;       // images per group (vector lanes)

// Floats between consecutive rows (or xi) of the per-xi matrices: at least `floats`, and an odd
// number of cache lines, so that code touching all 36 xi at once spreads over the sets of L1
// (36 streams an even number of lines apart would share a few sets and evict one another).
size_t xiStrideFor(size_t floats) {
  const size_t stride = (floats + 15) / 16 * 16;
  return stride / 16 % 2 == 0 ? stride + 16 : stride;
}

// How the output is cut into tiles, the batch into groups of 8 images, and the work into chunks.
struct Tiling {
  int oh, ow, tilesH, tilesW;
  int gh, gw;          // the padded input of a group: every 6x6 window of every tile inside it
  size_t groupFloats;  // c * gh * gw * 8
  int groups, rowsTotal;  // 8-image groups; tile rows of all groups
  int rowsPerChunk, chunkColumns;
  size_t ld;  // row stride of a chunk's transformed matrices (per channel and xi)

  Tiling(const Conv2dShape& s)
      : oh(s.outH()), ow(s.outW()), tilesH((oh + 3) / 4), tilesW((ow + 3) / 4), gh(4 * tilesH + 2), gw(4 * tilesW + 2),
        groupFloats(static_cast<size_t>(s.c) * gh * gw * kLanes), groups((s.n + kLanes - 1) / kLanes),
        rowsTotal(groups * tilesH) {
    // At least 128 columns, a whole number of 16-wide GEMM panels when the row length allows.
    const int rowColumns = tilesW * kLanes;
    rowsPerChunk = std::max(1, 256 / rowColumns);
    for (int r = 1; r * rowColumns <= 256; ++r) {
      if (r * rowColumns >= 128 && r * rowColumns % 16 == 0) {
        rowsPerChunk = r;
        break;
      }
    }
    chunkColumns = rowsPerChunk * rowColumns;
    // An odd number of cache lines per row, so that the transforms' 36 rows a tile reads or
    // writes spread over the sets of L1 (see convolveTransformed).
    ld = xiStrideFor(chunkColumns);
  }
};

// For each group overlapping tile rows [r0, r1) of all groups: fn(group, first tile row in it,
// tile-row count, first column of its tiles within the chunk).
template <typename Fn>
void forEachGroupSegment(const Tiling& t, int r0, int r1, Fn fn) {
  for (int grp = r0 / t.tilesH; grp * t.tilesH < r1; ++grp) {
    const int first = std::max(r0, grp * t.tilesH), last = std::min(r1, (grp + 1) * t.tilesH);
    fn(grp, first - grp * t.tilesH, last - first, (first - r0) * t.tilesW * kLanes);
  }
}

// Interleaved groups of 8 images (WinogradKernels::interleave), each made once as chunks reach
// it: group g lives in slot g % slots.
class Groups {
 public:
  // images: n of them, `channels` planes of h x w, placed at (top, left) of gh x gw.
  Groups(ScratchSlot slot, const float* images, int n, int channels, int h, int w, int top, int left, int gh, int gw,
         int slots)
      : images_(images), n_(n), channels_(channels), h_(h), w_(w), top_(top), left_(left), gh_(gh), gw_(gw),
        slots_(slots), size_(static_cast<size_t>(channels) * gh * gw * kLanes) {
    // (+8 floats: the input transform reads whole vectors, never past that.)
    data_ = scratchFloats(slot, size_ * slots + kLanes);
    std::fill_n(held_, kMaxSlots, -1);
  }
  const float* group(int g, const WinogradKernels& wk) {
    float* dst = data_ + (g % slots_) * size_;
    if (held_[g % slots_] != g) {
      const float* src[kLanes];
      const int count = std::min(kLanes, n_ - g * kLanes);
      const size_t image = static_cast<size_t>(channels_) * h_ * w_;
      for (int l = 0; l < count; ++l) src[l] = images_ + (static_cast<size_t>(g) * kLanes + l) * image;
      wk.interleave(src, count, channels_, h_, w_, top_, left_, gh_, gw_, dst);
      held_[g % slots_] = g;
    }
    return dst;
  }
  static constexpr int kMaxSlots = 64;

 private:
  const float* images_;
  int n_, channels_, h_, w_, top_, left_, gh_, gw_, slots_;
  size_t size_;
  float* data_;
  int held_[kMaxSlots];
};

// Slots for the groups one chunk can touch.
int groupSlots(const Tiling& t) { return std::min(Groups::kMaxSlots, (t.rowsPerChunk + t.tilesH - 1) / t.tilesH + 1); }

// G v for a 3-vector v: the six rows of G above, written out (multiplying by reciprocals: a
// division costs ten times more, for a difference of a rounding).
constexpr float kSixth = 1.0f / 6, kTwelfth = 1.0f / 12, kTwentyFourth = 1.0f / 24;
inline void applyG(float v0, float v1, float v2, float out[6]) {
  const float even = v0 + v2;
  out[0] = 0.25f * v0;
  out[1] = -(even + v1) * kSixth;
  out[2] = -(even - v1) * kSixth;
  const float e2 = v0 * kTwentyFourth + v2 * kSixth, o2 = v1 * kTwelfth;
  out[3] = e2 + o2;
  out[4] = e2 - o2;
  out[5] = v2;
}

// G^T v for a 6-vector v.
inline void applyGT(const float v[6], float out[3]) {
  out[0] = 0.25f * v[0] - (v[1] + v[2]) * kSixth + (v[3] + v[4]) * kTwentyFourth;
  out[1] = (v[2] - v[1]) * kSixth + (v[3] - v[4]) * kTwelfth;
  out[2] = (v[3] + v[4] - v[1] - v[2]) * kSixth + v[5];
}

// u[xi * xiStride + r * cols + col] = (G g G^T)[xi] for the 3x3 kernel g = kernel(r, col)
// (row-major 9 floats).
template <typename KernelAt>
void transformWeights(int rows, int cols, KernelAt kernel, size_t xiStride, float* u) {
  for (int r = 0; r < rows; ++r) {
    for (int col = 0; col < cols; ++col) {
      float g[9], t[3][6], w[6][6];
      kernel(r, col, g);
      for (int j = 0; j < 3; ++j) applyG(g[j], g[3 + j], g[6 + j], t[j]);  // t[j] = column j of G g
      for (int i = 0; i < 6; ++i) applyG(t[0][i], t[1][i], t[2][i], w[i]);  // row i of (G g) G^T
      float* dst = u + static_cast<size_t>(r) * cols + col;
      for (int xi = 0; xi < kPositions; ++xi) dst[xi * xiStride] = w[xi / 6][xi % 6];
    }
  }
}

// The convolution of x (stride 1, 3x3, s's padding) with transformed kernels u (36 matrices oc x c,
// uStride apart).
void convolveTransformed(const Conv2dShape& s, const float* x, const float* u, size_t uStride, const float* bias,
                         float* out) {
  const GemmKernels& g = activeGemmKernels();
  const WinogradKernels& wk = winogradKernels__avx2fma();
  const Tiling t(s);
  // U[xi], packed once as GEMM A blocks (xi, row block m), the whole depth c in one block: the input
  // transform writes V[xi] straight into B panels of that depth.
  const int mCount = (s.oc + g.mc - 1) / g.mc;
  const size_t uBlock = packedSize(std::min(s.oc, g.mc), s.c, g.mr);
  float* packedU = scratchFloats(ScratchSlot::ConvPackedWeight, uBlock * kPositions * mCount);
  for (int xi = 0; xi < kPositions; ++xi) {
    for (int m = 0; m < mCount; ++m) {
      const int o0 = m * g.mc;
      g.packA({u + xi * uStride + static_cast<size_t>(o0) * s.c, s.c, 1}, std::min(g.mc, s.oc - o0), s.c,
              static_cast<size_t>(g.mr) * s.c, packedU + (xi * mCount + m) * uBlock);
    }
  }
  // V[xi] as packed B panels (c x columns); M (oc, 36, columns): a channel's 36 rows together, so
  // that the output transform's loads stay within a few KiB.
  const size_t panelStride = static_cast<size_t>(s.c) * g.nr;
  const int panels = (t.chunkColumns + g.nr - 1) / g.nr;
  // (An odd number of cache lines between the xi: the input transform writes all 36 at once, and
  // 36 streams a power of two, or an even number of lines, apart share a few sets of L1.)
  const size_t vXi = xiStrideFor(panels * panelStride);
  const size_t rowStride = kPositions * t.ld;
  float* v = scratchFloats(ScratchSlot::ConvColumns, kPositions * vXi);
  float* prod = scratchFloats(ScratchSlot::WinogradProducts, s.oc * rowStride);
  Groups groups(ScratchSlot::ConvImage, x, s.n, s.c, s.h, s.w, s.padH, s.padW, t.gh, t.gw, groupSlots(t));
  const size_t image = static_cast<size_t>(s.oc) * t.oh * t.ow;
  for (int r0 = 0; r0 < t.rowsTotal; r0 += t.rowsPerChunk) {
    const int r1 = std::min(t.rowsTotal, r0 + t.rowsPerChunk), columns = (r1 - r0) * t.tilesW * kLanes;
    forEachGroupSegment(t, r0, r1, [&](int grp, int ty0, int rows, int n0) {
      wk.inputTransform(groups.group(grp, wk), s.c, t.gh, t.gw, t.tilesW, ty0, rows, v, vXi, 0, n0, g.nr, panelStride);
    });
    if (columns % g.nr != 0) {  // the last panel's spare columns: zero, not stale floats
      const int used = columns % g.nr;
      for (int xi = 0; xi < kPositions; ++xi)
        for (int ch = 0; ch < s.c; ++ch)
          std::fill_n(v + xi * vXi + (columns / g.nr) * panelStride + ch * g.nr + used, g.nr - used, 0.0f);
    }
    for (int xi = 0; xi < kPositions; ++xi) {
      for (int m = 0; m < mCount; ++m) {
        const int o0 = m * g.mc;
        g.macroKernel(std::min(g.mc, s.oc - o0), columns, s.c, 1.0f, packedU + (xi * mCount + m) * uBlock, v + xi * vXi,
                      0.0f, prod + xi * t.ld + o0 * rowStride, static_cast<ptrdiff_t>(rowStride));
      }
    }
    forEachGroupSegment(t, r0, r1, [&](int grp, int ty0, int rows, int n0) {
      wk.outputTransform(prod, t.ld, rowStride, s.oc, t.tilesW, ty0, rows, n0, bias, out + grp * kLanes * image, image,
                         std::min(kLanes, s.n - grp * kLanes), t.oh, t.ow);
    });
  }
}

}  // namespace

bool winogradApplies(const Conv2dShape& s) {
  // Worth it once the GEMMs dominate the transforms: a few channels in and out. The input
  // gradient runs as a convolution padded by 2 - pad, hence pad <= 2. A group of 8 interleaved
  // images must stay a reasonable scratch buffer (16 MiB): large images take the GEMM path.
  if (activeIsa() == Isa::Scalar || s.kh != 3 || s.kw != 3 || s.strideH != 1 || s.strideW != 1 || s.padH > 2 ||
      s.padW > 2 || s.c < 8 || s.oc < 8) {
    return false;
  }
  const double tilesH = (s.outH() + 3) / 4 + 1, tilesW = (s.outW() + 3) / 4 + 1;  // (+1: the input gradient's)
  return std::max(s.c, s.oc) * (4 * tilesH + 2) * (4 * tilesW + 2) * kLanes <= 4.0 * (1 << 20);
}

bool winogradPays(const Conv2dShape& s, bool inputGradient) {
  if (!winogradApplies(s)) return false;
  // Multiplications: 36 per tile (of the gradient's own convolution for the input gradient)
  // against 9 per output; tiles overhanging small outputs and the transforms eat part of the 4x.
  const int h = inputGradient ? s.h : s.outH(), w = inputGradient ? s.w : s.outW();
  const double tiles = ((h + 3) / 4) * static_cast<double>((w + 3) / 4);
  return 36 * tiles <= 0.6 * 9 * s.outH() * s.outW();
}

void winogradConv2d(const Conv2dShape& s, const float* x, const float* weight, const float* bias, float* out) {
  const size_t uStride = xiStrideFor(static_cast<size_t>(s.oc) * s.c);
  float* u = scratchFloats(ScratchSlot::WinogradWeights, kPositions * uStride);
  transformWeights(s.oc, s.c, [&](int o, int ch, float* g) { std::memcpy(g, weight + (static_cast<size_t>(o) * s.c + ch) * 9, sizeof(float) * 9); }, uStride, u);
  convolveTransformed(s, x, u, uStride, bias, out);
}

void winogradConv2dBackwardInput(const Conv2dShape& s, const float* gy, const float* weight, float* gx) {
  // gx = gy (oc channels, oh x ow) convolved, padded by 2 - pad, with kernels k[ch][o] = w[o][ch] flipped.
  const Conv2dShape t{s.n, s.oc, s.outH(), s.outW(), s.c, 3, 3, 1, 1, 2 - s.padH, 2 - s.padW};
  const size_t uStride = xiStrideFor(static_cast<size_t>(s.c) * s.oc);
  float* u = scratchFloats(ScratchSlot::WinogradWeights, kPositions * uStride);
  transformWeights(s.c, s.oc, [&](int ch, int o, float* g) {
    const float* w = weight + (static_cast<size_t>(o) * s.c + ch) * 9;
    for (int i = 0; i < 9; ++i) g[i] = w[8 - i];
  }, uStride, u);
  convolveTransformed(t, gy, u, uStride, nullptr, gx);
}

void winogradConv2dBackwardWeight(const Conv2dShape& s, const float* x, const float* gy, float* gw, float* gb) {
  const GemmKernels& g = activeGemmKernels();
  const WinogradKernels& wk = winogradKernels__avx2fma();
  const Tiling t(s);
  const size_t rowStride = kPositions * t.ld;  // V (c, 36, columns) and D (oc, 36, columns)
  float* v = scratchFloats(ScratchSlot::ConvColumns, s.c * rowStride);
  float* dy = scratchFloats(ScratchSlot::WinogradProducts, s.oc * rowStride);
  // dU[xi] (oc x c), summed over every chunk.
  const size_t kernels = static_cast<size_t>(s.oc) * s.c, uXi = xiStrideFor(kernels);
  float* du = scratchFloats(ScratchSlot::WinogradWeights, kPositions * uXi);
  const int kBlock = std::min(t.chunkColumns, g.kc);
  float* packedA = scratchFloats(ScratchSlot::ConvPackedWeight, packedSize(std::min(s.oc, g.mc), kBlock, g.mr));
  float* packedB = scratchFloats(ScratchSlot::ConvPackedColumns, packedSize(std::min(s.c, g.nc), kBlock, g.nr));
  Groups inputs(ScratchSlot::ConvImage, x, s.n, s.c, s.h, s.w, s.padH, s.padW, t.gh, t.gw, groupSlots(t));
  // The output gradient, zero past the output, on whole tiles.
  Groups gradients(ScratchSlot::WinogradGradients, gy, s.n, s.oc, t.oh, t.ow, 0, 0, 4 * t.tilesH, 4 * t.tilesW,
                   groupSlots(t));
  double* biasSums = static_cast<double*>(scratchBytes(ScratchSlot::ConvRuns, sizeof(double) * s.oc));
  std::fill_n(biasSums, s.oc, 0.0);
  if (t.rowsTotal == 0) std::fill_n(du, kPositions * uXi, 0.0f);
  for (int r0 = 0; r0 < t.rowsTotal; r0 += t.rowsPerChunk) {
    const int r1 = std::min(t.rowsTotal, r0 + t.rowsPerChunk), columns = (r1 - r0) * t.tilesW * kLanes;
    forEachGroupSegment(t, r0, r1, [&](int grp, int ty0, int rows, int n0) {
      wk.inputTransform(inputs.group(grp, wk), s.c, t.gh, t.gw, t.tilesW, ty0, rows, v, t.ld, rowStride, n0, 0, 0);
      wk.gradientTransform(gradients.group(grp, wk), s.oc, 4 * t.tilesH, 4 * t.tilesW, t.tilesW, ty0, rows, dy, t.ld,
                           rowStride, n0);
    });
    // D[7] = (A dY A^T)[1][1] is a tile's sum of gradients: summed, the bias gradient.
    if (gb != nullptr) for (int o = 0; o < s.oc; ++o) biasSums[o] += sumFloats(dy + o * rowStride + 7 * t.ld, columns);
    // dU[xi] += D[xi] (oc x columns) * V[xi]^T (columns x c)
    for (int xi = 0; xi < kPositions; ++xi) {
      for (int k0 = 0; k0 < columns; k0 += kBlock) {
        const int kc = std::min(kBlock, columns - k0);
        const float beta = r0 == 0 && k0 == 0 ? 0.0f : 1.0f;
        for (int jc = 0; jc < s.c; jc += g.nc) {
          const int nc = std::min(g.nc, s.c - jc);
          g.packB({v + xi * t.ld + jc * rowStride + k0, 1, static_cast<ptrdiff_t>(rowStride)}, kc, nc, packedB);
          for (int o0 = 0; o0 < s.oc; o0 += g.mc) {
            const int mc = std::min(g.mc, s.oc - o0);
            g.packA({dy + xi * t.ld + o0 * rowStride + k0, static_cast<ptrdiff_t>(rowStride), 1}, mc, kc,
                    static_cast<size_t>(g.mr) * kc, packedA);
            g.macroKernel(mc, nc, kc, 1.0f, packedA, packedB, beta, du + xi * uXi + o0 * s.c + jc, s.c);
          }
        }
      }
    }
  }
  if (gb != nullptr) for (int o = 0; o < s.oc; ++o) gb[o] = static_cast<float>(biasSums[o]);
  // gw = G^T dU G for each kernel.
  for (size_t k = 0; k < kernels; ++k) {
    float t[6][3];  // t[c] = G^T (column c of dU)
    for (int c = 0; c < 6; ++c) {
      float column[6];
      for (int r = 0; r < 6; ++r) column[r] = du[(6 * r + c) * uXi + k];
      applyGT(column, t[c]);
    }
    float* dst = gw + k * 9;
    for (int i = 0; i < 3; ++i) {  // row i of (G^T dU) G
      const float row[6] = {t[0][i], t[1][i], t[2][i], t[3][i], t[4][i], t[5][i]};
      applyGT(row, dst + 3 * i);
    }
  }
}

}  // namespace weft
