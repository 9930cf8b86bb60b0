// Convolution forward and backward as packed GEMMs over implicit im2col matrices.
//
// Note [convolution as GEMM]: for one image, let col be the (taps x pixels) matrix with
//   col[(ch, i, j)][(y, x)] = x[ch][y * strideH - padH + i][x * strideW - padW + j]   (0 in the padding).
// Then, with W the weight as an (oc x taps) matrix,
//   forward:          out_b (oc x pixels)  = W * col_b   (+ bias, as one more tap whose input is 1)
//   backward input:   gx_b = col2im(W^T * gy_b)          (each column entry added back to its pixel)
//   backward weight:  gw   = sum over b of gy_b * col_b^T (one long product: depth n * pixels)
// col is never stored. Every element of it is x at (tap offset + pixel offset) in the image, zero
// padded into scratch when padH or padW is set, so the GEMM's B panels are gathered straight from
// the image (ConvKernels::packGather), and column gradients are added straight onto it
// (ConvKernels::scatterAdd). The weight is packed once per call, not once per image.
//
// Which algorithm runs, per pass (each measured faster than the next for the shapes it takes):
// few taps at stride 1: direct kernels (Note [direct convolution]); 3x3 at stride 1 with enough
// channels and outputs: Winograd (Note [Winograd convolution]); anything else: the GEMM here.
// WEFT_CONV=gemm makes every convolution take the GEMM (benchmarks, suspected numerical issues).
#include "conv2d.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "conv2d-kernels.h"
#include "conv2d-winograd.h"
#include "cpu.h"
#include "kernels/f32-gemm/f32-gemm.h"
#include "kernels/f32-gemm/scratch.h"

namespace weft {

const ConvKernels& activeConvKernels() {
  switch (activeIsa()) {
    case Isa::Avx512: return convKernels__avx512();
    case Isa::Avx2Fma: return convKernels__avx2fma();
    default: return convKernels__scalar();
  }
}

namespace {

// `total` split into `count` blocks of at most `limit`, as even as possible (289 taps with a limit
// of 256 become 145 + 144 rather than 256 + 33, so no block is a nearly empty pass over C).
struct Blocks {
  int count, size;
  Blocks(int total, int limit) : count((total + limit - 1) / limit), size(count == 0 ? 0 : (total + count - 1) / count) {}
};

// Image layout and the offsets that define col (Note [convolution as GEMM]).
struct Geometry {
  int oh, ow, pixels, taps;
  bool padded;
  int ph, pw;          // height and width of the (padded) image the offsets index
  size_t imageFloats;  // c * ph * pw
  int32_t* tapOffset;    // taps entries: (ch, i, j) -> ch * ph * pw + i * pw + j
  int32_t* pixelOffset;  // pixels entries: (y, x) -> y * strideH * pw + x * strideW

  explicit Geometry(const Conv2dShape& s)
      : oh(s.outH()), ow(s.outW()), pixels(oh * ow), taps(s.c * s.kh * s.kw), padded(s.padH > 0 || s.padW > 0),
        ph(s.h + 2 * s.padH), pw(s.w + 2 * s.padW), imageFloats(static_cast<size_t>(s.c) * ph * pw) {
    tapOffset = scratchInts(ScratchSlot::ConvOffsets, static_cast<size_t>(taps) + pixels);
    pixelOffset = tapOffset + taps;
    for (int ch = 0, t = 0; ch < s.c; ++ch)
      for (int i = 0; i < s.kh; ++i)
        for (int j = 0; j < s.kw; ++j) tapOffset[t++] = static_cast<int32_t>(ch * ph * pw + i * pw + j);
    for (int y = 0, q = 0; y < oh; ++y)
      for (int x = 0; x < ow; ++x) pixelOffset[q++] = y * s.strideH * pw + x * s.strideW;
  }
};

// Copies image x (c, h, w) into dst (c, h + 2 padH, w + 2 padW) with zero borders.
void padImage(const Conv2dShape& s, const float* x, float* dst) {
  const int pw = s.w + 2 * s.padW;
  for (int ch = 0; ch < s.c; ++ch) {
    std::memset(dst, 0, sizeof(float) * s.padH * pw);
    dst += s.padH * pw;
    for (int y = 0; y < s.h; ++y, x += s.w, dst += pw) {
      std::memset(dst, 0, sizeof(float) * s.padW);
      std::memcpy(dst + s.padW, x, sizeof(float) * s.w);
      std::memset(dst + s.padW + s.w, 0, sizeof(float) * s.padW);
    }
    std::memset(dst, 0, sizeof(float) * s.padH * pw);
    dst += s.padH * pw;
  }
}

// The inverse of padImage for gradients: the interior of src (c, ph, pw) into gx (c, h, w).
void cropImage(const Conv2dShape& s, const float* src, float* gx) {
  const int pw = s.w + 2 * s.padW;
  for (int ch = 0; ch < s.c; ++ch) {
    const float* plane = src + static_cast<size_t>(ch) * (s.h + 2 * s.padH) * pw + s.padH * pw + s.padW;
    for (int y = 0; y < s.h; ++y, gx += s.w) std::memcpy(gx, plane + y * pw, sizeof(float) * s.w);
  }
}

// Packs rows [0, rows) x depth [0, k) of a matrix given by at(row, l) into mr-tall GEMM panels
// (the layout of GemmKernels::packA), rows past `rows` zero.
template <typename At>
void packPanelsA(int mr, int rows, int k, At at, float* out) {
  for (int i0 = 0; i0 < rows; i0 += mr) {
    float* panel = out + static_cast<size_t>(i0) * k;
    const int valid = std::min(mr, rows - i0);
    for (int l = 0; l < k; ++l) {
      float* dst = panel + static_cast<size_t>(l) * mr;
      for (int r = 0; r < valid; ++r) dst[r] = at(i0 + r, l);
      for (int r = valid; r < mr; ++r) dst[r] = 0.0f;
    }
  }
}

// gb[o] = the sum of gy over the images and pixels of channel o.
void biasGradient(const Conv2dShape& s, const float* gy, float* gb) {
  const int pixels = s.outH() * s.outW();
  for (int o = 0; o < s.oc; ++o) {
    double sum = 0;
    for (int b = 0; b < s.n; ++b) sum += sumFloats(gy + (static_cast<size_t>(b) * s.oc + o) * pixels, pixels);
    gb[o] = static_cast<float>(sum);
  }
}

// Whether WEFT_CONV=gemm rules out the direct and Winograd algorithms (read once).
bool gemmOnly() {
  static const bool value = [] {
    const char* v = std::getenv("WEFT_CONV");
    return v != nullptr && std::strcmp(v, "gemm") == 0;
  }();
  return value;
}

bool useWinograd(const Conv2dShape& s, bool inputGradient) { return !gemmOnly() && winogradPays(s, inputGradient); }

// The direct kernels, when they apply to this convolution (Note [direct convolution]).
const ConvDirectKernels* directKernels(const Conv2dShape& s, const Geometry& geo) {
  if (gemmOnly() || activeIsa() == Isa::Scalar || s.strideH != 1 || s.strideW != 1 || geo.ow < kDirectLanes) return nullptr;
  const ConvDirectKernels& direct = convDirectKernels__avx2fma();
  return geo.taps <= direct.maxTaps ? &direct : nullptr;
}

}  // namespace

double sumFloats(const float* x, int n) {
  // 16 interleaved partial sums, which the compiler keeps in vector registers: one running float
  // sum is a chain of dependent adds, several times slower.
  float lanes[16] = {};
  int q = 0;
  for (; q + 16 <= n; q += 16) {
    for (int t = 0; t < 16; ++t) lanes[t] += x[q + t];
  }
  double sum = 0;
  for (; q < n; ++q) sum += x[q];
  for (float v : lanes) sum += v;
  return sum;
}

void weft_f32_conv2d(const Conv2dShape& s, const float* x, const float* weight, const float* bias, float* out) {
  const GemmKernels& g = activeGemmKernels();
  const ConvKernels& ck = activeConvKernels();
  const Geometry geo(s);
  const int taps = geo.taps, pixels = geo.pixels;
  if (const ConvDirectKernels* direct = directKernels(s, geo)) {
    float* image = geo.padded ? scratchFloats(ScratchSlot::ConvImage, geo.imageFloats) : nullptr;
    for (int b = 0; b < s.n; ++b) {
      const float* xb = x + static_cast<size_t>(b) * s.c * s.h * s.w;
      if (geo.padded) padImage(s, xb, image);
      direct->forward(geo.padded ? image : xb, geo.pw, geo.tapOffset, taps, geo.oh, geo.ow, weight, bias, s.oc,
                      out + static_cast<size_t>(b) * s.oc * pixels);
    }
    return;
  }
  if (useWinograd(s, false)) return winogradConv2d(s, x, weight, bias, out);
  const int depth = taps + (bias != nullptr ? 1 : 0);
  const Blocks kBlocks(depth, g.kc), mBlocks(s.oc, g.mc);
  // The weight, with the bias as its last column, packed once: block (d, m) at (d * mBlocks + m) * wBlock.
  const size_t wBlock = packedSize(std::min(s.oc, g.mc), kBlocks.size, g.mr);
  float* packedW = scratchFloats(ScratchSlot::ConvPackedWeight, wBlock * kBlocks.count * mBlocks.count);
  for (int d = 0; d < kBlocks.count; ++d) {
    const int l0 = d * kBlocks.size, kc = std::min(kBlocks.size, depth - l0);
    for (int m = 0; m < mBlocks.count; ++m) {
      const int o0 = m * g.mc;
      auto at = [&](int o, int l) { return l0 + l < taps ? weight[(o0 + o) * static_cast<size_t>(taps) + l0 + l] : bias[o0 + o]; };
      packPanelsA(g.mr, std::min(g.mc, s.oc - o0), kc, at, packedW + (d * mBlocks.count + m) * wBlock);
    }
  }
  // One B panel at a time, used as soon as it is packed, while it is still in L1.
  float* packedB = scratchFloats(ScratchSlot::ConvPackedColumns, static_cast<size_t>(kBlocks.size) * g.nr);
  float* image = geo.padded ? scratchFloats(ScratchSlot::ConvImage, geo.imageFloats) : nullptr;
  for (int b = 0; b < s.n; ++b) {
    const float* xb = x + static_cast<size_t>(b) * s.c * s.h * s.w;
    if (geo.padded) padImage(s, xb, image);
    const float* base = geo.padded ? image : xb;
    float* ob = out + static_cast<size_t>(b) * s.oc * pixels;
    for (int j0 = 0; j0 < pixels; j0 += g.nr) {
      const int cols = std::min(g.nr, pixels - j0);
      for (int d = 0; d < kBlocks.count; ++d) {
        const int l0 = d * kBlocks.size, kc = std::min(kBlocks.size, depth - l0);
        const int real = std::min(kc, taps - l0);  // the rest (0 or 1) is the bias tap
        ck.packGather(base, geo.tapOffset + l0, real, geo.pixelOffset + j0, cols, g.nr, 0, packedB);
        if (real < kc) std::fill_n(packedB + static_cast<size_t>(real) * g.nr, g.nr, 1.0f);
        for (int m = 0; m < mBlocks.count; ++m) {
          const int o0 = m * g.mc;
          g.macroKernel(std::min(g.mc, s.oc - o0), cols, kc, 1.0f, packedW + (d * mBlocks.count + m) * wBlock, packedB,
                        d == 0 ? 0.0f : 1.0f, ob + static_cast<size_t>(o0) * pixels + j0, pixels);
        }
      }
    }
  }
}

void weft_f32_conv2d_backward_input(const Conv2dShape& s, const float* gy, const float* weight, float* gx) {
  if (useWinograd(s, true)) return winogradConv2dBackwardInput(s, gy, weight, gx);
  const GemmKernels& g = activeGemmKernels();
  const ConvKernels& ck = activeConvKernels();
  const Geometry geo(s);
  const int taps = geo.taps, pixels = geo.pixels;
  const Blocks kBlocks(s.oc, g.kc), mBlocks(taps, g.mc);
  // W^T (taps x oc), packed once.
  const size_t wBlock = packedSize(std::min(taps, g.mc), kBlocks.size, g.mr);
  float* packedW = scratchFloats(ScratchSlot::ConvPackedWeight, wBlock * kBlocks.count * mBlocks.count);
  for (int d = 0; d < kBlocks.count; ++d) {
    const int o0 = d * kBlocks.size, kc = std::min(kBlocks.size, s.oc - o0);
    for (int m = 0; m < mBlocks.count; ++m) {
      const int t0 = m * g.mc;
      auto at = [&](int t, int o) { return weight[(o0 + o) * static_cast<size_t>(taps) + t0 + t]; };
      packPanelsA(g.mr, std::min(g.mc, taps - t0), kc, at, packedW + (d * mBlocks.count + m) * wBlock);
    }
  }
  const int ncMax = std::min(pixels, g.nc);
  float* packedB = scratchFloats(ScratchSlot::ConvPackedColumns, static_cast<size_t>(kBlocks.size) * g.nr);
  float* gcol = scratchFloats(ScratchSlot::ConvColumns, static_cast<size_t>(taps) * ncMax);
  // Column gradients land on a (padded) image with room past its end for scatterAdd's slack.
  float* acc = scratchFloats(ScratchSlot::ConvImage, geo.imageFloats + kScatterSlack);
  for (int b = 0; b < s.n; ++b) {
    const float* gyb = gy + static_cast<size_t>(b) * s.oc * pixels;
    std::memset(acc, 0, sizeof(float) * geo.imageFloats);
    for (int jc = 0; jc < pixels; jc += g.nc) {
      const int nc = std::min(g.nc, pixels - jc);
      for (int j0 = 0; j0 < nc; j0 += g.nr) {
        const int cols = std::min(g.nr, nc - j0);
        for (int d = 0; d < kBlocks.count; ++d) {
          const int o0 = d * kBlocks.size, kc = std::min(kBlocks.size, s.oc - o0);
          g.packB({gyb + static_cast<size_t>(o0) * pixels + jc + j0, pixels, 1}, kc, cols, packedB);
          for (int m = 0; m < mBlocks.count; ++m) {
            const int t0 = m * g.mc;
            g.macroKernel(std::min(g.mc, taps - t0), cols, kc, 1.0f, packedW + (d * mBlocks.count + m) * wBlock, packedB,
                          d == 0 ? 0.0f : 1.0f, gcol + static_cast<size_t>(t0) * ncMax + j0, ncMax);
          }
        }
      }
      ck.scatterAdd(gcol, ncMax, taps, nc, geo.tapOffset, geo.pixelOffset + jc, acc);
    }
    float* gxb = gx + static_cast<size_t>(b) * s.c * s.h * s.w;
    if (geo.padded) cropImage(s, acc, gxb);
    else std::memcpy(gxb, acc, sizeof(float) * geo.imageFloats);
  }
}

void weft_f32_conv2d_backward_weight(const Conv2dShape& s, const float* x, const float* gy, float* gw, float* gb) {
  const GemmKernels& g = activeGemmKernels();
  const ConvKernels& ck = activeConvKernels();
  const Geometry geo(s);
  const int taps = geo.taps, pixels = geo.pixels;
  const size_t imageSize = static_cast<size_t>(s.c) * s.h * s.w, gySize = static_cast<size_t>(s.oc) * pixels;
  if (const ConvDirectKernels* direct = directKernels(s, geo)) {
    const size_t sumsPerChannel = static_cast<size_t>(taps + 1) * kDirectLanes;
    float* sums = scratchFloats(ScratchSlot::ConvPackedWeight, s.oc * sumsPerChannel);
    std::fill_n(sums, s.oc * sumsPerChannel, 0.0f);
    float* image = geo.padded ? scratchFloats(ScratchSlot::ConvImage, geo.imageFloats) : nullptr;
    for (int b = 0; b < s.n; ++b) {
      if (geo.padded) padImage(s, x + b * imageSize, image);
      direct->backwardWeight(geo.padded ? image : x + b * imageSize, geo.pw, geo.tapOffset, taps, geo.oh, geo.ow,
                             gy + b * gySize, s.oc, sums);
    }
    for (int o = 0; o < s.oc; ++o) {
      for (int t = 0; t <= taps; ++t) {
        const float* lanes = sums + o * sumsPerChannel + t * kDirectLanes;
        double sum = 0;
        for (int i = 0; i < kDirectLanes; ++i) sum += lanes[i];
        if (t < taps) gw[static_cast<size_t>(o) * taps + t] = static_cast<float>(sum);
        else if (gb != nullptr) gb[o] = static_cast<float>(sum);
      }
    }
    return;
  }
  if (useWinograd(s, false)) return winogradConv2dBackwardWeight(s, x, gy, gw, gb);
  // The product's depth runs over every pixel of every image: kappa = b * pixels + q.
  const int64_t total = static_cast<int64_t>(s.n) * pixels;
  const int blockCount = static_cast<int>((total + g.kc - 1) / g.kc);
  const int blockSize = blockCount == 0 ? 0 : static_cast<int>((total + blockCount - 1) / blockCount);
  if (blockCount == 0) std::fill_n(gw, static_cast<size_t>(s.oc) * taps, 0.0f);
  float* packedB = scratchFloats(ScratchSlot::ConvPackedColumns, static_cast<size_t>(blockSize) * g.nr);
  float* packedA = scratchFloats(ScratchSlot::ConvPackedWeight, packedSize(s.oc, blockSize, g.mr));
  // Per depth index of the block: where its pixel starts in the (padded) images.
  int32_t* xOffset = scratchInts(ScratchSlot::ConvRuns, static_cast<size_t>(blockSize));
  // A block spans at most this many images, padded together when the convolution pads.
  const int imagesPerBlock = pixels == 0 ? 0 : static_cast<int>(std::min<int64_t>(s.n, blockSize / pixels + 2));
  float* images = geo.padded ? scratchFloats(ScratchSlot::ConvImage, geo.imageFloats * imagesPerBlock) : nullptr;
  for (int blk = 0; blk < blockCount; ++blk) {
    const int64_t k0 = static_cast<int64_t>(blk) * blockSize;
    const int kc = static_cast<int>(std::min<int64_t>(blockSize, total - k0));
    const int firstImage = static_cast<int>(k0 / pixels), lastImage = static_cast<int>((k0 + kc - 1) / pixels);
    const float* base = x;
    if (geo.padded) {
      for (int b = firstImage; b <= lastImage; ++b) padImage(s, x + b * imageSize, images + (b - firstImage) * geo.imageFloats);
      base = images;
    }
    for (int l = 0, b = firstImage, q = static_cast<int>(k0 % pixels); l < kc; ++l) {
      const size_t image = geo.padded ? static_cast<size_t>(b - firstImage) * geo.imageFloats : b * imageSize;
      xOffset[l] = static_cast<int32_t>(image + geo.pixelOffset[q]);
      if (++q == pixels) q = 0, ++b;
    }
    // A = gy (oc x depth), every row: one run of each image's pixels at a time.
    const size_t panelStrideA = static_cast<size_t>(kc) * g.mr;
    for (int b = firstImage; b <= lastImage; ++b) {
      const int64_t from = std::max<int64_t>(k0, int64_t{b} * pixels), to = std::min<int64_t>(k0 + kc, int64_t{b + 1} * pixels);
      const float* rows = gy + b * gySize + (from - int64_t{b} * pixels);
      g.packA({rows, pixels, 1}, s.oc, static_cast<int>(to - from), panelStrideA, packedA + (from - k0) * g.mr);
    }
    // B = col^T (depth x taps), one panel of taps at a time, used while it is in L1.
    for (int j0 = 0; j0 < taps; j0 += g.nr) {
      const int cols = std::min(g.nr, taps - j0);
      ck.packGather(base, xOffset, kc, geo.tapOffset + j0, cols, g.nr, 0, packedB);
      for (int o0 = 0; o0 < s.oc; o0 += g.mc) {
        g.macroKernel(std::min(g.mc, s.oc - o0), cols, kc, 1.0f, packedA + (o0 / g.mr) * panelStrideA, packedB,
                      blk == 0 ? 0.0f : 1.0f, gw + static_cast<size_t>(o0) * taps + j0, taps);
      }
    }
  }
  if (gb != nullptr) biasGradient(s, gy, gb);
}

}  // namespace weft
