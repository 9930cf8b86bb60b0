// bf16 GEMM on AMX tiles (Note [bf16 gemm paths] in bf16-gemm.h): a 32 x 32 micro-tile of C held
// in four 16 x 16 float32 tiles (tmm0-3), fed by two A tiles (tmm4-5: 16 rows x 32 depth steps of
// bf16) and two B tiles (tmm6-7: 16 pairs of depth steps x 16 columns, each pair side by side as
// TDPBF16PS reads them). Each A and B tile is loaded once and used twice, so a 32-step slice of
// the depth costs four loads for four tile products.
//
// Tile state is per thread: each call loads the configuration and releases the tiles at the end,
// so a thread that stops using AMX does not carry 8 KiB of tile data through context switches.
#include <immintrin.h>

#include <cstring>

#include "bf16-gemm-layouts.h"
#include "bf16-gemm-tiled.h"

namespace weft {
namespace {

// The 64-byte operand of LDTILECFG (palette 1): bytes per row and rows of each tile.
struct alignas(64) TileConfig {
  uint8_t palette;
  uint8_t startRow;
  uint8_t reserved[14];
  uint16_t colsBytes[16];
  uint8_t rows[16];
};

struct TileKernel : TileLayout {
  struct Session {
    Session() {
      TileConfig config;
      std::memset(&config, 0, sizeof config);
      config.palette = 1;
      for (int t = 0; t < 8; ++t) {
        config.rows[t] = 16;
        config.colsBytes[t] = 64;
      }
      _tile_loadconfig(&config);
    }
    ~Session() { _tile_release(); }
  };

  static void tile(int depth, const uint16_t* a, const uint16_t* b, float* acc) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int slice = 0; slice < depth / 32; ++slice, a += 2 * kTileValues, b += 2 * kTileValues) {
      _tile_loadd(4, a, 64);
      _tile_loadd(5, a + kTileValues, 64);
      _tile_loadd(6, b, 64);
      _tile_loadd(7, b + kTileValues, 64);
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
    constexpr int kRowBytes = kNr * sizeof(float);
    _tile_stored(0, acc, kRowBytes);
    _tile_stored(1, acc + 16, kRowBytes);
    _tile_stored(2, acc + 16 * kNr, kRowBytes);
    _tile_stored(3, acc + 16 * kNr + 16, kRowBytes);
  }
};

}  // namespace

void weft_bf16_gemm__amx(const Bf16GemmCall& call) { bf16GemmTiled<TileKernel>(call); }

}  // namespace weft
