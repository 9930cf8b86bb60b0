// Portable GEMM kernels: a 4 x 8 micro-tile in plain C++ (the compiler may use the baseline
// SSE2 registers). The reference point for the vector variants and the path on old CPUs.
#include "f32-gemm.h"
#include "gemm-panels.h"

namespace weft {
namespace {

constexpr int kMr = 4;
constexpr int kNr = 8;

void microKernel(int k, const float* a, const float* b, float* c, ptrdiff_t ldc, float alpha, float beta) {
  float acc[kMr][kNr] = {};
  for (int l = 0; l < k; ++l, a += kMr, b += kNr) {
    for (int r = 0; r < kMr; ++r) {
      for (int j = 0; j < kNr; ++j) acc[r][j] += a[r] * b[j];
    }
  }
  for (int r = 0; r < kMr; ++r) {
    float* row = c + r * ldc;
    if (beta == 0.0f) for (int j = 0; j < kNr; ++j) row[j] = alpha * acc[r][j];
    else for (int j = 0; j < kNr; ++j) row[j] = alpha * acc[r][j] + beta * row[j];
  }
}

}  // namespace

const GemmKernels& gemmKernels__scalar() {
  static const GemmKernels kernels{kMr, kNr, 128, 256, 2048, packAPanels<kMr>, packBPanels<kNr>,
                                   macroKernel<kMr, kNr, microKernel>};
  return kernels;
}

}  // namespace weft
