// AVX2 convolution data movement. A panel of 16 columns is two groups of 8 lanes; each group is
// split once into runs of consecutive offsets, and every row of the panel is then assembled from
// one masked load per run (masked-off lanes read nothing, so no load strays outside the image).
// Groups with more runs than kMaxRuns (strided convolutions) use a gather instead.
#include <immintrin.h>

#include "conv2d-kernels.h"
#include "kernels/f32-gemm/scratch.h"

namespace weft {

namespace {

constexpr int kLanes = 8;
constexpr int kMaxRuns = 3;
constexpr int kMaxGroups = 8;  // panels up to 64 columns

struct GroupPlan {
  int runs;  // 0: all lanes zero; 1..kMaxRuns: masked loads; kMaxRuns + 1: gather
  bool full;  // one run covering all lanes: a plain load
  int32_t delta[kMaxRuns];  // lane t of run r reads row[delta[r] + t]
  __m256i mask[kMaxRuns];
  __m256i index;  // gather: lane t reads row[index[t]] where gatherMask is set
  __m256i gatherMask;
};

inline __m256i laneMask(int from, int to) {  // lanes [from, to) set
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(to), lane),
                          _mm256_cmpgt_epi32(lane, _mm256_set1_epi32(from - 1)));
}

GroupPlan planGroup(const int32_t* colOffset, int valid) {
  GroupPlan plan{};
  int starts[kLanes + 1];
  int runs = 0;
  for (int t = 0; t < valid; ++t) {
    if (t == 0 || colOffset[t] != colOffset[t - 1] + 1) starts[runs++] = t;
  }
  starts[runs] = valid;
  plan.full = runs == 1 && valid == kLanes;
  if (runs <= kMaxRuns) {
    plan.runs = runs;
    for (int r = 0; r < runs; ++r) {
      plan.delta[r] = colOffset[starts[r]] - starts[r];
      plan.mask[r] = laneMask(starts[r], starts[r + 1]);
    }
  } else {
    plan.runs = kMaxRuns + 1;
    alignas(32) int32_t idx[kLanes] = {};
    for (int t = 0; t < valid; ++t) idx[t] = colOffset[t];
    plan.index = _mm256_load_si256(reinterpret_cast<const __m256i*>(idx));
    plan.gatherMask = laneMask(0, valid);
  }
  return plan;
}

// One row of one group: lanes of base[rowOffset + colOffset[t]].
inline __m256 loadGroup(const GroupPlan& plan, const float* row) {
  switch (plan.runs) {
    case 0: return _mm256_setzero_ps();
    case 1: return plan.full ? _mm256_loadu_ps(row + plan.delta[0]) : _mm256_maskload_ps(row + plan.delta[0], plan.mask[0]);
    case 2:
      return _mm256_or_ps(_mm256_maskload_ps(row + plan.delta[0], plan.mask[0]),
                          _mm256_maskload_ps(row + plan.delta[1], plan.mask[1]));
    case 3:
      return _mm256_or_ps(_mm256_or_ps(_mm256_maskload_ps(row + plan.delta[0], plan.mask[0]),
                                       _mm256_maskload_ps(row + plan.delta[1], plan.mask[1])),
                          _mm256_maskload_ps(row + plan.delta[2], plan.mask[2]));
    default:
      return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), row, plan.index, _mm256_castsi256_ps(plan.gatherMask), 4);
  }
}

void packGather(const float* base, const int32_t* rowOffset, int k, const int32_t* colOffset, int n, int nr,
                size_t panelStride, float* out) {
  const int groups = nr / kLanes < kMaxGroups ? nr / kLanes : kMaxGroups;
  GroupPlan plans[kMaxGroups];
  for (int j0 = 0; j0 < n; j0 += nr) {
    float* panel = out + static_cast<size_t>(j0 / nr) * panelStride;
    for (int g = 0; g < groups; ++g) {
      const int first = j0 + g * kLanes;
      const int valid = n - first < 0 ? 0 : (n - first > kLanes ? kLanes : n - first);
      plans[g] = planGroup(colOffset + first, valid);
    }
    // Whole rows of the panel at a time, so each cache line of it is written once.
    for (int l = 0; l < k; ++l) {
      const float* row = base + rowOffset[l];
      float* dst = panel + static_cast<size_t>(l) * nr;
      for (int g = 0; g < groups; ++g) _mm256_store_ps(dst + g * kLanes, loadGroup(plans[g], row));
    }
  }
}

void scatterAdd(const float* src, ptrdiff_t ld, int k, int n, const int32_t* rowOffset, const int32_t* colOffset,
                float* base) {
  // Runs of consecutive destination offsets, found once for all rows: (first column, length).
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
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int l = 0; l < k; ++l) {
    float* row = base + rowOffset[l];
    const float* s = src + l * ld;
    // Even runs, then odd ones: a run's last vector spills past its end, often onto the start of
    // the next run (the next output row); loading that while the store is still in flight stalls
    // store forwarding, so neighbouring runs are kept apart in time.
    for (int parity = 0; parity < 2; ++parity) {
      for (int r = parity; r < count; r += 2) {
        const int j = runs[2 * r], len = runs[2 * r + 1];
        float* d = row + colOffset[j];
        const float* sj = s + j;
        int t = 0;
        for (; t + kLanes <= len; t += kLanes) {
          _mm256_storeu_ps(d + t, _mm256_add_ps(_mm256_loadu_ps(d + t), _mm256_loadu_ps(sj + t)));
        }
        if (t < len) {
          // Lanes past the run add zero: they rewrite what is there (ConvKernels::scatterAdd).
          const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(len - t), lane);
          _mm256_storeu_ps(d + t, _mm256_add_ps(_mm256_loadu_ps(d + t), _mm256_maskload_ps(sj + t, m)));
        }
      }
    }
  }
}

}  // namespace

const ConvKernels& convKernels__avx2fma() {
  static const ConvKernels kernels{packGather, scatterAdd};
  return kernels;
}

}  // namespace weft
