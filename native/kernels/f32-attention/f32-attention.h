// Scaled dot-product attention, forward and backward, over every (batch, head) pair of a batch;
// see src/backend/backend.ts (Note [attention layouts]) for the exact contract.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/isa-table.h"

namespace weft {

struct AttentionShape {
  int64_t batch, heads, tq, tk, headSize;
  float scale;  // positive
  bool causal;  // query t sees keys 0..t
};

// A (B, H, T, hs) operand: element (b, h, t, d) at data[b * strideB + h * strideH + t * strideT + d].
struct HeadsView {
  const float* data;
  int64_t strideB, strideH, strideT;
};

// Note [attention blocks]: queries and keys go in blocks of kAttentionBlock. A block of scores
// (16 KiB) and the head's packed keys (hs x T) stay in L1/L2 while it is worked on. With causal
// masking the blocks wholly above the diagonal are never computed, and in a block on the diagonal
// only the register tiles that touch visible keys are. At gpt-tiny's T = 128, hs = 32, blocks of 64
// and 128 ran alike and 32 some 20% slower in the forward (more per-block overhead).
constexpr int kAttentionBlock = 64;

// One head's rows: row t of q at q + t * ldq (hs floats), and so on.
struct HeadRows {
  const float *q, *k, *v;
  int64_t ldq, ldk, ldv;
};

struct F32AttentionKernels {
  // Writes y's rows (y + t * ldy) and lse[0..tq) of one head; `work` holds
  // attentionWorkspaceFloats(shape) floats.
  void (*forwardHead)(const AttentionShape& s, const HeadRows& in, float* y, int64_t ldy, float* lse, float* work);
  // Writes gq (tq x hs) and gk, gv (tk x hs), contiguous, of one head.
  void (*backwardHead)(const AttentionShape& s, const HeadRows& in, const float* y, const float* gy, int64_t ldy,
                       const float* lse, float* gq, float* gk, float* gv, float* work);
};

WEFT_ISA_TABLE(F32AttentionKernels, f32Attention)

// Scratch for one head, forward or backward: packed k and v (hs x tk each), two blocks of scores,
// a block of output sums, and per-row statistics.
inline size_t attentionWorkspaceFloats(const AttentionShape& s) {
  const size_t block = kAttentionBlock;
  return 2 * static_cast<size_t>(s.headSize * s.tk) + 2 * block * block + block * static_cast<size_t>(s.headSize) +
         2 * block + static_cast<size_t>(s.tq);
}

// The whole batch on the active instruction set: y is (B, tq, H, hs) and lse (B, H, tq), both
// contiguous; gy has y's layout; gq is (B, H, tq, hs), gk and gv (B, H, tk, hs), contiguous.
void attentionForward(const AttentionShape& s, HeadsView q, HeadsView k, HeadsView v, float* y, float* lse);
void attentionBackward(const AttentionShape& s, HeadsView q, HeadsView k, HeadsView v, const float* y,
                       const float* lse, const float* gy, float* gq, float* gk, float* gv);

}  // namespace weft
