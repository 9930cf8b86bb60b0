// Note [Winograd convolution]: F(2x2, 3x3) (Lavin and Gray, 2016) computes a 2x2 tile of a 3x3
// convolution from the 4x4 input window d under it as
//   Y = A^T [ (G g G^T) .* (B^T d B) ] A,
// with the constant matrices below, so 16 multiplications replace 36. Over channels, the .*
// becomes 16 independent GEMMs, one per position xi of the 4x4 transformed tile:
//   M[xi] (oc x tiles) = U[xi] (oc x c) * V[xi] (c x tiles),  U = G g G^T,  V = B^T d B,
// and then Y = A^T M A per tile. The weight gradient runs the same algebra backwards:
//   dU[xi] (oc x c) = sum over tiles of D[xi] (oc x tiles) * V[xi]^T,  D = A dY A^T,
//   dg = G^T dU G,
// and the input gradient of a stride-1 3x3 convolution is itself such a convolution: of gy,
// padded by 2 - pad, with the kernels flipped and their channel axes swapped.
//
// Tiles are taken a few whole tile rows at a time (a chunk), so that a chunk's transformed inputs
// and products stay in L2; the transforms are the active ISA's (WinogradKernels), the GEMMs the
// same packed kernels as everywhere else. Tiles hanging over the output's right or bottom edge
// read zero padding and their extra outputs are dropped (gradients there count as zero).
//
//   B^T = [1  0 -1  0]    G = [ 1    0    0 ]    A^T = [1  1  1  0]
//         [0  1  1  0]        [1/2  1/2  1/2]          [0  1 -1 -1]
//         [0 -1  1  0]        [1/2 -1/2  1/2]
//         [0  1  0 -1]        [ 0    0    1 ]
#include "conv2d-winograd.h"

#include <algorithm>
#include <cstring>

#include "conv2d-kernels.h"
#include "cpu.h"
#include "kernels/f32-gemm/f32-gemm.h"
#include "kernels/f32-gemm/scratch.h"

namespace weft {

namespace {

constexpr int kPositions = 16;  // xi = 4 i + k over the 4x4 transformed tile
constexpr int kReadSlack = 32;   // floats the input transform may read past a padded image

// How the output is cut into tiles, and the tiles into chunks of whole tile rows.
struct Tiling {
  int oh, ow, tilesH, tilesW;
  int ph, pw;          // the padded image: every 4x4 window of every tile inside it
  size_t imageFloats;  // c * ph * pw
  int rowsPerChunk;    // tile rows per chunk
  int chunkTiles;      // rowsPerChunk * tilesW
  size_t ld;           // row stride of the per-chunk transformed matrices (room for 8 floats of spill)

  explicit Tiling(const Conv2dShape& s)
      : oh(s.outH()), ow(s.outW()), tilesH((oh + 1) / 2), tilesW((ow + 1) / 2), ph(2 * tilesH + 2),
        pw(2 * tilesW + 2), imageFloats(static_cast<size_t>(s.c) * ph * pw) {
    // About 64 to 128 tiles, a whole number of 16-wide GEMM panels when the row length allows.
    rowsPerChunk = std::max(1, 96 / tilesW);
    for (int r = 1; r * tilesW <= 128; ++r) {
      if (r * tilesW % 16 == 0) {
        rowsPerChunk = r;
        break;
      }
    }
    chunkTiles = rowsPerChunk * tilesW;
    ld = (static_cast<size_t>(chunkTiles) + 15) / 8 * 8;
  }
};

// dst[0, n) = src[0, n) for the short rows of small images, where a call to memcpy per row
// costs more than the copy (fixed-size copies compile to plain moves).
inline void copyRow(const float* src, int n, float* dst) {
  int j = 0;
  for (; j + 4 <= n; j += 4) std::memcpy(dst + j, src + j, 4 * sizeof(float));
  switch (n - j) {
    case 3: std::memcpy(dst + j, src + j, 3 * sizeof(float)); break;
    case 2: std::memcpy(dst + j, src + j, 2 * sizeof(float)); break;
    case 1: dst[j] = src[j]; break;
    default: break;
  }
}

// Copies image x (c, h, w) into dst (c, ph, pw) at (padH, padW), zero elsewhere.
void padInto(const Conv2dShape& s, const float* x, int ph, int pw, float* dst) {
  std::memset(dst, 0, sizeof(float) * s.c * ph * pw);
  for (int ch = 0; ch < s.c; ++ch) {
    float* plane = dst + static_cast<size_t>(ch) * ph * pw + s.padH * pw + s.padW;
    for (int y = 0; y < s.h; ++y) copyRow(x + (static_cast<size_t>(ch) * s.h + y) * s.w, s.w, plane + y * pw);
  }
}

// u[xi][r][col] = (G g G^T)[xi] for the 3x3 kernel g = kernel(r, col) (row-major 9 floats).
template <typename KernelAt>
void transformWeights(int rows, int cols, KernelAt kernel, float* u) {
  const size_t xiStride = static_cast<size_t>(rows) * cols;
  for (int r = 0; r < rows; ++r) {
    for (int col = 0; col < cols; ++col) {
      float g[9];
      kernel(r, col, g);
      float t[4][3];  // G g
      for (int j = 0; j < 3; ++j) {
        t[0][j] = g[j];
        t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
        t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
        t[3][j] = g[6 + j];
      }
      float* dst = u + static_cast<size_t>(r) * cols + col;
      for (int i = 0; i < 4; ++i) {  // (G g) G^T
        dst[(4 * i + 0) * xiStride] = t[i][0];
        dst[(4 * i + 1) * xiStride] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
        dst[(4 * i + 2) * xiStride] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
        dst[(4 * i + 3) * xiStride] = t[i][2];
      }
    }
  }
}

// For each image b overlapping tile rows [r0, r1) of the whole batch: fn(b, first tile row in
// b, tile-row count, offset of its first tile within the chunk).
template <typename Fn>
void forEachImageSegment(const Tiling& t, int r0, int r1, Fn fn) {
  for (int b = r0 / t.tilesH; b * t.tilesH < r1; ++b) {
    const int first = std::max(r0, b * t.tilesH), last = std::min(r1, (b + 1) * t.tilesH);
    fn(b, first - b * t.tilesH, last - first, (first - r0) * t.tilesW);
  }
}

// The padded images of the current chunk: image b lives in slot b % slots, and is padded only
// when it first shows up (chunks of whole tile rows often share an image with the last chunk).
class PaddedImages {
 public:
  PaddedImages(const Conv2dShape& s, const Tiling& t, const float* x)
      : s_(s), t_(t), x_(x), slots_((t.rowsPerChunk + t.tilesH - 1) / t.tilesH + 1) {
    images_ = scratchFloats(ScratchSlot::ConvImage, t.imageFloats * slots_ + kReadSlack);
    std::memset(images_ + t.imageFloats * slots_, 0, sizeof(float) * kReadSlack);
    held_ = scratchInts(ScratchSlot::ConvOffsets, slots_);
    std::fill_n(held_, slots_, -1);
  }
  const float* image(int b) {
    float* dst = images_ + (b % slots_) * t_.imageFloats;
    if (held_[b % slots_] != b) {
      padInto(s_, x_ + static_cast<size_t>(b) * s_.c * s_.h * s_.w, t_.ph, t_.pw, dst);
      held_[b % slots_] = b;
    }
    return dst;
  }

 private:
  const Conv2dShape& s_;
  const Tiling& t_;
  const float* x_;
  int slots_;
  float* images_;
  int32_t* held_;
};

// The convolution of x (stride 1, 3x3, s's padding) with transformed kernels u (16, oc, c).
void convolveTransformed(const Conv2dShape& s, const float* x, const float* u, const float* bias, float* out) {
  const GemmKernels& g = activeGemmKernels();
  const WinogradKernels& wk = winogradKernels__avx2fma();
  const Tiling t(s);
  const int rowsTotal = s.n * t.tilesH;
  // U[xi], packed once as GEMM A blocks (xi, depth block d, row block m).
  const int kBlock = std::min(s.c, g.kc), kCount = (s.c + kBlock - 1) / kBlock;
  const int mCount = (s.oc + g.mc - 1) / g.mc;
  const size_t uBlock = packedSize(std::min(s.oc, g.mc), kBlock, g.mr);
  float* packedU = scratchFloats(ScratchSlot::ConvPackedWeight, uBlock * kPositions * kCount * mCount);
  auto uAt = [&](int xi, int d, int m) { return packedU + ((xi * kCount + d) * mCount + m) * uBlock; };
  for (int xi = 0; xi < kPositions; ++xi) {
    for (int d = 0; d < kCount; ++d) {
      for (int m = 0; m < mCount; ++m) {
        const int l0 = d * kBlock, o0 = m * g.mc;
        g.packA({u + (static_cast<size_t>(xi) * s.oc + o0) * s.c + l0, s.c, 1}, std::min(g.mc, s.oc - o0),
                std::min(kBlock, s.c - l0), static_cast<size_t>(g.mr) * std::min(kBlock, s.c - l0), uAt(xi, d, m));
      }
    }
  }
  // V (c, 16, tiles) and M (oc, 16, tiles): a channel's 16 rows together, so that a transform's
  // 16 loads or stores stay in a few KiB instead of 16 streams far apart.
  const size_t rowStride = kPositions * t.ld;
  float* v = scratchFloats(ScratchSlot::ConvColumns, s.c * rowStride);
  float* prod = scratchFloats(ScratchSlot::WinogradProducts, s.oc * rowStride);
  float* packedB = scratchFloats(ScratchSlot::ConvPackedColumns, packedSize(std::min(t.chunkTiles, g.nc), kBlock, g.nr));
  PaddedImages images(s, t, x);
  for (int r0 = 0; r0 < rowsTotal; r0 += t.rowsPerChunk) {
    const int r1 = std::min(rowsTotal, r0 + t.rowsPerChunk), tiles = (r1 - r0) * t.tilesW;
    forEachImageSegment(t, r0, r1, [&](int b, int ty0, int rows, int n0) {
      wk.inputTransform(images.image(b), s.c, static_cast<size_t>(t.ph) * t.pw, t.pw,
                        t.tilesW, ty0, rows, v, t.ld, rowStride, n0);
    });
    for (int xi = 0; xi < kPositions; ++xi) {
      for (int jc = 0; jc < tiles; jc += g.nc) {
        const int nc = std::min(g.nc, tiles - jc);
        for (int d = 0; d < kCount; ++d) {
          const int l0 = d * kBlock, kc = std::min(kBlock, s.c - l0);
          g.packB({v + xi * t.ld + l0 * rowStride + jc, static_cast<ptrdiff_t>(rowStride), 1}, kc, nc, packedB);
          for (int m = 0; m < mCount; ++m) {
            const int o0 = m * g.mc;
            g.macroKernel(std::min(g.mc, s.oc - o0), nc, kc, 1.0f, uAt(xi, d, m), packedB, d == 0 ? 0.0f : 1.0f,
                          prod + xi * t.ld + o0 * rowStride + jc, static_cast<ptrdiff_t>(rowStride));
          }
        }
      }
    }
    forEachImageSegment(t, r0, r1, [&](int b, int ty0, int rows, int n0) {
      wk.outputTransform(prod, t.ld, rowStride, s.oc, t.tilesW, ty0, rows, n0, bias,
                         out + static_cast<size_t>(b) * s.oc * t.oh * t.ow, t.oh, t.ow);
    });
  }
}

}  // namespace

bool winogradApplies(const Conv2dShape& s) {
  // Worth it once the GEMMs dominate the transforms: a few channels in and out. The input
  // gradient runs as a convolution padded by 2 - pad, hence pad <= 2.
  return activeIsa() != Isa::Scalar && s.kh == 3 && s.kw == 3 && s.strideH == 1 && s.strideW == 1 && s.padH <= 2 &&
         s.padW <= 2 && s.c >= 8 && s.oc >= 8;
}

bool winogradPays(const Conv2dShape& s, bool inputGradient) {
  if (!winogradApplies(s)) return false;
  // Multiplications: 16 per tile (of the gradient's own convolution for the input gradient)
  // against 9 per output. Tiles overhanging small outputs, and the transforms, eat the rest of
  // the 2.25x; measured on this design, it pays below about 0.7 of the direct count.
  const int h = inputGradient ? s.h : s.outH(), w = inputGradient ? s.w : s.outW();
  const double tiles = ((h + 1) / 2) * static_cast<double>((w + 1) / 2);
  return 16 * tiles <= 0.7 * 9 * s.outH() * s.outW();
}

void winogradConv2d(const Conv2dShape& s, const float* x, const float* weight, const float* bias, float* out) {
  float* u = scratchFloats(ScratchSlot::WinogradWeights, static_cast<size_t>(kPositions) * s.oc * s.c);
  transformWeights(s.oc, s.c, [&](int o, int ch, float* g) { std::memcpy(g, weight + (static_cast<size_t>(o) * s.c + ch) * 9, sizeof(float) * 9); }, u);
  convolveTransformed(s, x, u, bias, out);
}

void winogradConv2dBackwardInput(const Conv2dShape& s, const float* gy, const float* weight, float* gx) {
  // gx = gy (oc channels, oh x ow) convolved, padded by 2 - pad, with kernels k[ch][o] = w[o][ch] flipped.
  const Conv2dShape t{s.n, s.oc, s.outH(), s.outW(), s.c, 3, 3, 1, 1, 2 - s.padH, 2 - s.padW};
  float* u = scratchFloats(ScratchSlot::WinogradWeights, static_cast<size_t>(kPositions) * s.c * s.oc);
  transformWeights(s.c, s.oc, [&](int ch, int o, float* g) {
    const float* w = weight + (static_cast<size_t>(o) * s.c + ch) * 9;
    for (int i = 0; i < 9; ++i) g[i] = w[8 - i];
  }, u);
  convolveTransformed(t, gy, u, nullptr, gx);
}

void winogradConv2dBackwardWeight(const Conv2dShape& s, const float* x, const float* gy, float* gw, float* gb) {
  const GemmKernels& g = activeGemmKernels();
  const WinogradKernels& wk = winogradKernels__avx2fma();
  const Tiling t(s);
  const int rowsTotal = s.n * t.tilesH;
  const size_t rowStride = kPositions * t.ld;  // V (c, 16, tiles) and D (oc, 16, tiles)
  float* v = scratchFloats(ScratchSlot::ConvColumns, s.c * rowStride);
  float* dy = scratchFloats(ScratchSlot::WinogradProducts, s.oc * rowStride);
  // dU[xi] (oc x c), summed over every chunk of tiles.
  const size_t uXi = static_cast<size_t>(s.oc) * s.c;
  float* du = scratchFloats(ScratchSlot::WinogradWeights, kPositions * uXi);
  const int kBlock = std::min(t.chunkTiles, g.kc);
  float* packedA = scratchFloats(ScratchSlot::ConvPackedWeight, packedSize(std::min(s.oc, g.mc), kBlock, g.mr));
  float* packedB = scratchFloats(ScratchSlot::ConvPackedColumns, packedSize(std::min(s.c, g.nc), kBlock, g.nr));
  PaddedImages images(s, t, x);
  const size_t gySize = static_cast<size_t>(s.oc) * t.oh * t.ow;
  if (rowsTotal == 0) std::fill_n(du, kPositions * uXi, 0.0f);
  double* biasSums = static_cast<double*>(scratchBytes(ScratchSlot::ConvRuns, sizeof(double) * s.oc));
  std::fill_n(biasSums, s.oc, 0.0);
  for (int r0 = 0; r0 < rowsTotal; r0 += t.rowsPerChunk) {
    const int r1 = std::min(rowsTotal, r0 + t.rowsPerChunk), tiles = (r1 - r0) * t.tilesW;
    forEachImageSegment(t, r0, r1, [&](int b, int ty0, int rows, int n0) {
      wk.inputTransform(images.image(b), s.c, static_cast<size_t>(t.ph) * t.pw, t.pw,
                        t.tilesW, ty0, rows, v, t.ld, rowStride, n0);
      wk.gradientTransform(gy + b * gySize, s.oc, t.oh, t.ow, t.tilesW, ty0, rows, dy, t.ld, rowStride, n0);
    });
    // D[5] = (g00 + g10) + (g01 + g11) is a tile's sum of gradients: summed, the bias gradient.
    if (gb != nullptr) {
      for (int o = 0; o < s.oc; ++o) {
        const float* row = dy + o * rowStride + 5 * t.ld;
        float part = 0.0f;
        for (int n = 0; n < tiles; ++n) part += row[n];
        biasSums[o] += part;
      }
    }
    // dU[xi] += D[xi] (oc x tiles) * V[xi]^T (tiles x c)
    for (int xi = 0; xi < kPositions; ++xi) {
      for (int k0 = 0; k0 < tiles; k0 += kBlock) {
        const int kc = std::min(kBlock, tiles - k0);
        const float beta = r0 == 0 && k0 == 0 ? 0.0f : 1.0f;
        for (int jc = 0; jc < s.c; jc += g.nc) {
          const int nc = std::min(g.nc, s.c - jc);
          g.packB({v + xi * t.ld + jc * rowStride + k0, 1, static_cast<ptrdiff_t>(rowStride)}, kc, nc, packedB);
          for (int o0 = 0; o0 < s.oc; o0 += g.mc) {
            const int mc = std::min(g.mc, s.oc - o0);
            g.packA({dy + xi * t.ld + o0 * rowStride + k0, static_cast<ptrdiff_t>(rowStride), 1}, mc, kc, static_cast<size_t>(g.mr) * kc,
                    packedA);
            g.macroKernel(mc, nc, kc, 1.0f, packedA, packedB, beta, du + xi * uXi + o0 * s.c + jc, s.c);
          }
        }
      }
    }
  }
  if (gb != nullptr) for (int o = 0; o < s.oc; ++o) gb[o] = static_cast<float>(biasSums[o]);
  // gw = G^T dU G for each kernel.
  for (size_t oc = 0; oc < uXi; ++oc) {
    float m[4][4], t3[3][4];
    for (int xi = 0; xi < kPositions; ++xi) m[xi / 4][xi % 4] = du[xi * uXi + oc];
    for (int k = 0; k < 4; ++k) {  // G^T m
      t3[0][k] = m[0][k] + 0.5f * (m[1][k] + m[2][k]);
      t3[1][k] = 0.5f * (m[1][k] - m[2][k]);
      t3[2][k] = 0.5f * (m[1][k] + m[2][k]) + m[3][k];
    }
    float* dst = gw + oc * 9;
    for (int i = 0; i < 3; ++i) {  // (G^T m) G
      dst[3 * i + 0] = t3[i][0] + 0.5f * (t3[i][1] + t3[i][2]);
      dst[3 * i + 1] = 0.5f * (t3[i][1] - t3[i][2]);
      dst[3 * i + 2] = 0.5f * (t3[i][1] + t3[i][2]) + t3[i][3];
    }
  }
}

}  // namespace weft
