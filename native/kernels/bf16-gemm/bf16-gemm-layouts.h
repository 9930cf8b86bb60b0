// Where the hardware bf16 kernels want each packed value (bf16-gemm-tiled.h packs by these), kept
// apart from the kernels so that a portable file (bf16-gemm-layouts-scalar.cc) can run the same
// driver, packing and edges on any CPU by reading the packed panels through the same offsets.
#pragma once
#include <cstddef>

namespace weft {
namespace {

// VDPBF16PS (bf16-gemm-avx512bf16.cc): a 12 x 32 tile of C; A as (pair of depth steps, row,
// which of the pair), broadcast one 32-bit pair at a time; B as (pair, column, which of the pair),
// 16 columns to a register.
struct DotProductLayout {
  static constexpr int kMr = 12, kNr = 32, kDepthUnit = 2;
  static constexpr int kMc = 144, kKc = 256, kNc = 1024;
  static size_t aOffset(int r, int l) { return (static_cast<size_t>(l / 2) * kMr + r) * 2 + (l & 1); }
  static size_t bOffset(int l, int j) { return (static_cast<size_t>(l / 2) * kNr + j) * 2 + (l & 1); }
};

// bf16 values in one AMX tile of 16 rows of 64 bytes.
constexpr int kTileValues = 16 * 32;

// TDPBF16PS (bf16-gemm-amx.cc): a 32 x 32 tile of C in four tiles; per 32-step slice of the depth
// two A tiles (16 rows x 32 steps each) and two B tiles (16 pairs of steps x 16 columns, each
// pair side by side).
struct TileLayout {
  static constexpr int kMr = 32, kNr = 32, kDepthUnit = 32;
  static constexpr int kMc = 128, kKc = 256, kNc = 512;
  // (slice, which A tile, row in it, step in the slice).
  static size_t aOffset(int r, int l) {
    return (static_cast<size_t>(l / 32) * 2 + r / 16) * kTileValues + (r % 16) * 32 + l % 32;
  }
  // (slice, which B tile, pair of steps in the slice, column in the tile, which of the pair).
  static size_t bOffset(int l, int j) {
    return (static_cast<size_t>(l / 32) * 2 + j / 16) * kTileValues + ((l % 32) / 2) * 32 + (j % 16) * 2 + (l & 1);
  }
};

}  // namespace
}  // namespace weft
