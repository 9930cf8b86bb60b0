// The attention driver: one call of the active ISA's per-head kernel for each (batch, head) pair,
// with the head's scratch kept from call to call.
#include "f32-attention.h"

#include <cstdlib>
#include <new>

namespace weft {

namespace {

// Grown to the largest request and kept, so a training loop allocates in its first step only.
float* workspace(size_t floats) {
  struct Buffer {
    float* data = nullptr;
    size_t capacity = 0;
    ~Buffer() { std::free(data); }
  };
  thread_local Buffer buffer;
  if (floats <= buffer.capacity) return buffer.data;
  const size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (p == nullptr) throw std::bad_alloc();
  std::free(buffer.data);
  buffer.data = static_cast<float*>(p);
  buffer.capacity = floats;
  return buffer.data;
}

HeadRows headRows(const HeadsView& q, const HeadsView& k, const HeadsView& v, int64_t b, int64_t h) {
  return {q.data + b * q.strideB + h * q.strideH, k.data + b * k.strideB + h * k.strideH,
          v.data + b * v.strideB + h * v.strideH, q.strideT, k.strideT, v.strideT};
}

}  // namespace

void attentionForward(const AttentionShape& s, HeadsView q, HeadsView k, HeadsView v, float* y, float* lse) {
  const F32AttentionKernels& kernels = f32Attention();
  float* work = workspace(attentionWorkspaceFloats(s));
  const int64_t ldy = s.heads * s.headSize;
  for (int64_t b = 0; b < s.batch; b++) {
    for (int64_t h = 0; h < s.heads; h++) {
      kernels.forwardHead(s, headRows(q, k, v, b, h), y + (b * s.tq * s.heads + h) * s.headSize, ldy,
                          lse + (b * s.heads + h) * s.tq, work);
    }
  }
}

void attentionBackward(const AttentionShape& s, HeadsView q, HeadsView k, HeadsView v, const float* y,
                       const float* lse, const float* gy, float* gq, float* gk, float* gv) {
  const F32AttentionKernels& kernels = f32Attention();
  float* work = workspace(attentionWorkspaceFloats(s));
  const int64_t ldy = s.heads * s.headSize;
  for (int64_t b = 0; b < s.batch; b++) {
    for (int64_t h = 0; h < s.heads; h++) {
      const int64_t yAt = (b * s.tq * s.heads + h) * s.headSize, head = b * s.heads + h;
      kernels.backwardHead(s, headRows(q, k, v, b, h), y + yAt, gy + yAt, ldy, lse + head * s.tq,
                           gq + head * s.tq * s.headSize, gk + head * s.tk * s.headSize,
                           gv + head * s.tk * s.headSize, work);
    }
  }
}

}  // namespace weft
