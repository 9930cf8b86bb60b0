#include "scratch.h"

#include <cstdlib>
#include <new>

namespace weft {

namespace {

struct Buffer {
  float* data = nullptr;
  size_t capacity = 0;
  ~Buffer() { std::free(data); }
};

thread_local Buffer buffers[static_cast<int>(ScratchSlot::Count)];

}  // namespace

float* scratchFloats(ScratchSlot slot, size_t count) {
  Buffer& b = buffers[static_cast<int>(slot)];
  if (count <= b.capacity) return b.data;
  // Grow by half again so that a slowly growing request does not reallocate every call.
  size_t want = count + count / 2;
  size_t bytes = (want * sizeof(float) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (p == nullptr) throw std::bad_alloc();
  std::free(b.data);
  b.data = static_cast<float*>(p);
  b.capacity = bytes / sizeof(float);
  return b.data;
}

}  // namespace weft
