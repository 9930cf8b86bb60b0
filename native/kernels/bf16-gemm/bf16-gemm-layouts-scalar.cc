// The hardware paths' driver, packing and edge handling on any CPU: the same bf16GemmTiled over
// the AVX512-BF16 and AMX layouts (bf16-gemm-layouts.h), with the instructions replaced by a loop
// that reads each packed value back through the layout's offsets. Only the tests select these
// ("dot-layout", "tile-layout"): on a CPU without the instructions they still check everything
// the kernels share except the instructions themselves.
#include <cstring>

#include "bf16-gemm-layouts.h"
#include "bf16-gemm-tiled.h"

namespace weft {
namespace {

inline float widened(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

template <class Layout>
struct LayoutInterpreter : Layout {
  struct Session {};
  static void tile(int depth, const uint16_t* a, const uint16_t* b, float* acc) {
    for (int r = 0; r < Layout::kMr; ++r) {
      for (int j = 0; j < Layout::kNr; ++j) {
        float sum = 0.0f;
        for (int l = 0; l < depth; ++l) sum += widened(a[Layout::aOffset(r, l)]) * widened(b[Layout::bOffset(l, j)]);
        acc[r * Layout::kNr + j] = sum;
      }
    }
  }
};

}  // namespace

void weft_bf16_gemm__dot_layout(const Bf16GemmCall& call) { bf16GemmTiled<LayoutInterpreter<DotProductLayout>>(call); }
void weft_bf16_gemm__tile_layout(const Bf16GemmCall& call) { bf16GemmTiled<LayoutInterpreter<TileLayout>>(call); }

}  // namespace weft
