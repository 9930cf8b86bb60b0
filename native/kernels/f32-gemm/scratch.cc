#include "scratch.h"

#include <cstdlib>
#include <new>

namespace weft {

namespace {

struct Buffer {
  void* data = nullptr;
  size_t capacity = 0;
  ~Buffer() { std::free(data); }
};

thread_local Buffer buffers[static_cast<int>(ScratchSlot::Count)];

}  // namespace

void* scratchBytes(ScratchSlot slot, size_t bytes) {
  Buffer& b = buffers[static_cast<int>(slot)];
  if (bytes <= b.capacity) return b.data;
  // Grow by half again so that a slowly growing request does not reallocate every call.
  const size_t want = (bytes + bytes / 2 + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, want);
  if (p == nullptr) throw std::bad_alloc();
  std::free(b.data);
  b.data = p;
  b.capacity = want;
  return b.data;
}

}  // namespace weft
