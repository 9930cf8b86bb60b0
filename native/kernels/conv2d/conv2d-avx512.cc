// AVX-512 convolution data movement: the AVX2 file's mirror with 16-lane groups and mask
// registers (a panel of 32 columns is two groups).
#include <immintrin.h>

#include "conv2d-kernels.h"
#include "kernels/f32-gemm/scratch.h"

namespace weft {

namespace {

constexpr int kLanes = 16;
constexpr int kMaxRuns = 3;
constexpr int kMaxGroups = 4;  // panels up to 64 columns

struct GroupPlan {
  int runs;  // 0: all lanes zero; 1..kMaxRuns: masked loads; kMaxRuns + 1: gather
  int32_t delta[kMaxRuns];  // lane t of run r reads row[delta[r] + t]
  __mmask16 mask[kMaxRuns];
  __m512i index;
  __mmask16 gatherMask;
};

inline __mmask16 laneMask(int from, int to) { return static_cast<__mmask16>(((1u << to) - 1) & ~((1u << from) - 1)); }

GroupPlan planGroup(const int32_t* colOffset, int valid) {
  GroupPlan plan{};
  int starts[kLanes + 1];
  int runs = 0;
  for (int t = 0; t < valid; ++t) {
    if (t == 0 || colOffset[t] != colOffset[t - 1] + 1) starts[runs++] = t;
  }
  starts[runs] = valid;
  if (runs <= kMaxRuns) {
    plan.runs = runs;
    for (int r = 0; r < runs; ++r) {
      plan.delta[r] = colOffset[starts[r]] - starts[r];
      plan.mask[r] = laneMask(starts[r], starts[r + 1]);
    }
  } else {
    plan.runs = kMaxRuns + 1;
    alignas(64) int32_t idx[kLanes] = {};
    for (int t = 0; t < valid; ++t) idx[t] = colOffset[t];
    plan.index = _mm512_load_si512(idx);
    plan.gatherMask = laneMask(0, valid);
  }
  return plan;
}

void packGroup(const GroupPlan& plan, const float* base, const int32_t* rowOffset, int k, int nr, float* dst) {
  switch (plan.runs) {
    case 0:
      for (int l = 0; l < k; ++l) _mm512_store_ps(dst + l * nr, _mm512_setzero_ps());
      break;
    case 1: {
      const float* src = base + plan.delta[0];
      for (int l = 0; l < k; ++l) _mm512_store_ps(dst + l * nr, _mm512_maskz_loadu_ps(plan.mask[0], src + rowOffset[l]));
      break;
    }
    case 2: {
      const float* s0 = base + plan.delta[0];
      const float* s1 = base + plan.delta[1];
      for (int l = 0; l < k; ++l) {
        const int32_t o = rowOffset[l];
        const __m512 v = _mm512_maskz_loadu_ps(plan.mask[0], s0 + o);
        _mm512_store_ps(dst + l * nr, _mm512_mask_loadu_ps(v, plan.mask[1], s1 + o));
      }
      break;
    }
    case 3: {
      const float* s0 = base + plan.delta[0];
      const float* s1 = base + plan.delta[1];
      const float* s2 = base + plan.delta[2];
      for (int l = 0; l < k; ++l) {
        const int32_t o = rowOffset[l];
        __m512 v = _mm512_maskz_loadu_ps(plan.mask[0], s0 + o);
        v = _mm512_mask_loadu_ps(v, plan.mask[1], s1 + o);
        _mm512_store_ps(dst + l * nr, _mm512_mask_loadu_ps(v, plan.mask[2], s2 + o));
      }
      break;
    }
    default:
      for (int l = 0; l < k; ++l) {
        _mm512_store_ps(dst + l * nr,
                        _mm512_mask_i32gather_ps(_mm512_setzero_ps(), plan.gatherMask, plan.index, base + rowOffset[l], 4));
      }
      break;
  }
}

void packGather(const float* base, const int32_t* rowOffset, int k, const int32_t* colOffset, int n, int nr,
                size_t panelStride, float* out) {
  const int groups = nr / kLanes;
  for (int j0 = 0; j0 < n; j0 += nr) {
    float* panel = out + static_cast<size_t>(j0 / nr) * panelStride;
    for (int g = 0; g < groups && g < kMaxGroups; ++g) {
      const int first = j0 + g * kLanes;
      const int valid = n - first < 0 ? 0 : (n - first > kLanes ? kLanes : n - first);
      packGroup(planGroup(colOffset + first, valid), base, rowOffset, k, nr, panel + g * kLanes);
    }
  }
}

void scatterAdd(const float* src, ptrdiff_t ld, int k, int n, const int32_t* rowOffset, const int32_t* colOffset,
                float* base) {
  int32_t* runs = scratchInts(ScratchSlot::ConvRuns, 2 * static_cast<size_t>(n));
  int count = 0;
  for (int j = 0; j < n; ++j) {
    if (j == 0 || colOffset[j] != colOffset[j - 1] + 1) {
      runs[2 * count] = j;
      runs[2 * count + 1] = 0;
      ++count;
    }
    ++runs[2 * count - 1];
  }
  for (int l = 0; l < k; ++l) {
    float* row = base + rowOffset[l];
    const float* s = src + l * ld;
    for (int r = 0; r < count; ++r) {
      const int j = runs[2 * r], len = runs[2 * r + 1];
      float* d = row + colOffset[j];
      const float* sj = s + j;
      int t = 0;
      for (; t + kLanes <= len; t += kLanes) {
        _mm512_storeu_ps(d + t, _mm512_add_ps(_mm512_loadu_ps(d + t), _mm512_loadu_ps(sj + t)));
      }
      if (t < len) {
        const __mmask16 m = laneMask(0, len - t);
        _mm512_mask_storeu_ps(d + t, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, d + t), _mm512_maskz_loadu_ps(m, sj + t)));
      }
    }
  }
}

}  // namespace

const ConvKernels& convKernels__avx512() {
  static const ConvKernels kernels{packGather, scatterAdd};
  return kernels;
}

}  // namespace weft
