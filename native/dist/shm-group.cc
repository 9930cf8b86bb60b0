// Shared-memory collectives: segment layout, arrival counters, and the five operations
// (Notes [shm chunk protocol] and [shm arrival counters] in shm-group.h).
#include "dist/shm-group.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <stdexcept>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WEFT_CPU_RELAX() _mm_pause()
#else
#define WEFT_CPU_RELAX() ((void)0)
#endif

namespace weft::shm {

namespace {

constexpr uint32_t kMagic = 0x57465348;  // "WFSH"
constexpr uint32_t kVersion = 3;
constexpr size_t kHeaderBytes = 256;
constexpr size_t kControlStride = 128;  // two cache lines: no false sharing between ranks
constexpr size_t kPage = 4096;
/** How often a sleeping waiter wakes to check that the ranks it waits for are still alive. */
constexpr int64_t kLivenessCheckNs = 50'000'000;

struct Header {
  uint32_t magic;
  uint32_t version;
  uint32_t worldSize;
  uint32_t reserved;
  uint64_t chunkFloats;
  uint64_t totalBytes;
};

struct Control {
  uint32_t arrivals;  // the futex word (Note [shm arrival counters])
  uint32_t waiters;
  int32_t pid;
  uint32_t reserved;
  Descriptor desc[2];  // by operation parity (Note [shm chunk protocol]), with the arrival stamps (Note [shm arrival stamps])
};
static_assert(sizeof(Control) <= kControlStride, "Control must fit its stride");

size_t roundUp(size_t x, size_t to) { return (x + to - 1) / to * to; }

size_t dataOffset(int world) { return roundUp(kHeaderBytes + kControlStride * static_cast<size_t>(world), kPage); }

/** Two sets of one slot per rank, each `chunk` floats. */
size_t segmentBytes(int world, size_t chunk) {
  return dataOffset(world) + 2 * static_cast<size_t>(world) * chunk * sizeof(float);
}

int64_t nowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

long futexWait(uint32_t* addr, uint32_t expected, int64_t ns) {
  timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  // Not FUTEX_PRIVATE: the word lives in memory shared with other processes.
  return syscall(SYS_futex, addr, FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void futexWakeAll(uint32_t* addr) { syscall(SYS_futex, addr, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0); }

bool reached(uint32_t count, uint32_t target) { return static_cast<int32_t>(count - target) >= 0; }

bool processGone(int32_t pid) { return pid > 0 && kill(pid, 0) == -1 && errno == ESRCH; }

std::string errnoText(const std::string& what, const std::string& name) {
  return what + " " + name + ": " + std::strerror(errno);
}

void copyFloats(float* __restrict dst, const float* __restrict src, size_t n) { std::memcpy(dst, src, n * sizeof(float)); }

void addFloats(float* __restrict dst, const float* __restrict src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

// A true division, as the TCP path does, so that `avg` rounds the same way everywhere.
void divideFloats(float* dst, size_t n, float by) {
  for (size_t i = 0; i < n; i++) dst[i] = dst[i] / by;
}

}  // namespace

struct Group::Deadline {
  int64_t endNs;
  int64_t spinEndNs;
};

Group::Group(const std::string& name, int worldSize, int rank, size_t chunkFloats, bool create)
    : world_(worldSize), rank_(rank), chunk_(roundUp(std::max<size_t>(chunkFloats, 16), 16)) {
  if (worldSize < 1 || rank < 0 || rank >= worldSize) throw std::runtime_error("shm group: rank out of range");
  bytes_ = segmentBytes(world_, chunk_);
  int fd = create ? shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600) : shm_open(name.c_str(), O_RDWR, 0);
  if (fd < 0) throw std::runtime_error(errnoText(create ? "cannot create shared-memory segment" : "cannot open shared-memory segment", name));
  // posix_fallocate, not just ftruncate: a sparse segment on a full /dev/shm would be accepted
  // here and kill the process with SIGBUS at the first write; reserving the pages fails cleanly.
  if (create) {
    const int err = ftruncate(fd, static_cast<off_t>(bytes_)) != 0 ? errno : posix_fallocate(fd, 0, static_cast<off_t>(bytes_));
    if (err != 0) {
      errno = err;
      std::string why = errnoText("cannot reserve " + std::to_string(bytes_ >> 10) + " KiB of shared memory for segment", name);
      close(fd);
      shm_unlink(name.c_str());
      throw std::runtime_error(why);
    }
  }
  struct stat st;
  if (!create && (fstat(fd, &st) != 0 || static_cast<size_t>(st.st_size) != bytes_)) {
    close(fd);
    throw std::runtime_error("shared-memory segment " + name + " has another size than this group needs (different world size or chunk size)");
  }
  void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) throw std::runtime_error(errnoText("cannot map shared-memory segment", name));
  base_ = static_cast<uint8_t*>(p);
  auto* h = reinterpret_cast<Header*>(base_);
  if (create) {
    // A fresh segment is zero-filled: every counter starts at 0.
    h->version = kVersion;
    h->worldSize = static_cast<uint32_t>(world_);
    h->chunkFloats = chunk_;
    h->totalBytes = bytes_;
    __atomic_store_n(&h->magic, kMagic, __ATOMIC_RELEASE);
  } else if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != kMagic || h->version != kVersion ||
             h->worldSize != static_cast<uint32_t>(world_) || h->chunkFloats != chunk_) {
    munmap(base_, bytes_);
    base_ = nullptr;
    throw std::runtime_error("shared-memory segment " + name + " was not made by a Weft group of this size and version");
  }
  auto* me = reinterpret_cast<Control*>(base_ + kHeaderBytes + kControlStride * rank_);
  __atomic_store_n(&me->pid, static_cast<int32_t>(getpid()), __ATOMIC_RELEASE);
}

Group::~Group() {
  if (base_ != nullptr) munmap(base_, bytes_);
}

float* Group::slot(int set, int rank) const {
  auto* data = reinterpret_cast<float*>(base_ + dataOffset(world_));
  return data + (static_cast<size_t>(set) * world_ + rank) * chunk_;
}

static Control* controlOf(uint8_t* base, int rank) {
  return reinterpret_cast<Control*>(base + kHeaderBytes + kControlStride * rank);
}

void Group::arrive() {
  Control* me = controlOf(base_, rank_);
  ++arrivals_;
  __atomic_store_n(&me->arrivals, arrivals_, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&me->waiters, __ATOMIC_SEQ_CST) != 0) futexWakeAll(&me->arrivals);
}

Status Group::waitAll(const Deadline& dl, Outcome* out) {
  const uint32_t target = arrivals_;
  int64_t nextLiveness = 0;
  for (int r = 0; r < world_; r++) {
    if (r == rank_) continue;
    Control* c = controlOf(base_, r);
    unsigned spins = 0;
    for (;;) {
      uint32_t seen = __atomic_load_n(&c->arrivals, __ATOMIC_ACQUIRE);
      if (reached(seen, target)) break;
      if ((++spins & 255) != 0) {
        WEFT_CPU_RELAX();
        continue;
      }
      const int64_t now = nowNs();
      if (now < dl.spinEndNs && now < dl.endNs) continue;
      if (now >= dl.endNs) {
        out->status = Status::Timeout;
        for (int q = 0; q < world_; q++) {
          if (q != rank_ && !reached(__atomic_load_n(&controlOf(base_, q)->arrivals, __ATOMIC_ACQUIRE), target)) out->ranks.push_back(q);
        }
        return Status::Timeout;
      }
      if (now >= nextLiveness) {
        nextLiveness = now + kLivenessCheckNs;
        for (int q = 0; q < world_; q++) {
          if (q != rank_ && processGone(__atomic_load_n(&controlOf(base_, q)->pid, __ATOMIC_ACQUIRE))) out->ranks.push_back(q);
        }
        if (!out->ranks.empty()) {
          out->status = Status::PeerLost;
          return Status::PeerLost;
        }
      }
      __atomic_fetch_add(&c->waiters, 1, __ATOMIC_SEQ_CST);
      seen = __atomic_load_n(&c->arrivals, __ATOMIC_SEQ_CST);
      if (!reached(seen, target)) futexWait(&c->arrivals, seen, std::min(dl.endNs - now, kLivenessCheckNs));
      __atomic_fetch_sub(&c->waiters, 1, __ATOMIC_SEQ_CST);
    }
  }
  return Status::Ok;
}

Status Group::arriveAndWait(const Deadline& dl, Outcome* out) {
  arrive();
  return waitAll(dl, out);
}

bool Group::descriptorsAgree(Outcome* out) const {
  const int parity = static_cast<int>(ops_ & 1);
  const Descriptor& first = controlOf(base_, 0)->desc[parity];
  bool agree = true;
  for (int r = 1; r < world_; r++) {
    const Descriptor& d = controlOf(base_, r)->desc[parity];
    if (d.op != first.op || d.reduce != first.reduce || d.root != first.root || d.count != first.count) agree = false;
  }
  if (!agree) {
    out->status = Status::Mismatch;
    for (int r = 0; r < world_; r++) out->descriptors.push_back(controlOf(base_, r)->desc[parity]);
  }
  return agree;
}

Outcome Group::run(const Descriptor& d, float* a, float* b, int64_t timeoutMs, int64_t spinUs, double* waitedMs) {
  Outcome out;
  if (failed_) {
    out.status = Status::Failed;
    return out;
  }
  const int64_t start = nowNs();
  const Deadline dl{start + std::max<int64_t>(timeoutMs, 0) * 1'000'000, start + std::max<int64_t>(spinUs, 0) * 1'000};
  const uint32_t arriveUs = static_cast<uint32_t>(static_cast<uint64_t>(start) / 1000);
  Descriptor& mine = controlOf(base_, rank_)->desc[ops_ & 1];
  mine = d;
  mine.arriveUs = arriveUs;

  const auto op = static_cast<OpCode>(d.op);
  const size_t count = d.count;
  const size_t w = static_cast<size_t>(world_);
  const size_t me = static_cast<size_t>(rank_);
  // Floats of the caller's range that one chunk covers (reduce-scatter puts worldSize pieces in a slot).
  const size_t span = op == OpCode::ReduceScatter ? std::max<size_t>(chunk_ / w, 1) : chunk_;
  const size_t chunks = count == 0 || op == OpCode::Barrier ? 1 : (count + span - 1) / span;
  const bool avg = static_cast<Reduce>(d.reduce) == Reduce::Avg;
  const float divisor = static_cast<float>(world_);

  for (size_t k = 0; k < chunks; k++) {
    const int set = static_cast<int>(chunks_++ & 1);
    const size_t off = k * span;
    const size_t len = op == OpCode::Barrier ? 0 : std::min(span, count - std::min(count, off));
    float* mine = slot(set, rank_);

    switch (op) {
      case OpCode::AllReduce:
      case OpCode::AllGather:
        copyFloats(mine, a + off, len);
        break;
      case OpCode::ReduceScatter:
        for (size_t q = 0; q < w; q++) copyFloats(mine + q * len, a + q * count + off, len);
        break;
      case OpCode::Broadcast:
        if (rank_ == d.root) copyFloats(mine, a + off, len);
        break;
      case OpCode::Barrier:
        break;
    }
    if (arriveAndWait(dl, &out) != Status::Ok || (k == 0 && !descriptorsAgree(&out))) {
      failed_ = true;
      return out;
    }
    if (k == 0 && waitedMs != nullptr) {
      const int parity = static_cast<int>(ops_ & 1);
      for (int r = 0; r < world_; r++) {
        const int32_t lateUs = static_cast<int32_t>(controlOf(base_, r)->desc[parity].arriveUs - arriveUs);
        waitedMs[r] = r == rank_ || lateUs < 0 ? 0.0 : static_cast<double>(lateUs) / 1e3;
      }
    }
    switch (op) {
      case OpCode::AllReduce: {
        // Every rank sums the whole chunk itself, in rank order, so all hold the same bits. With
        // two ranks the caller's buffer already holds one operand: x1 + x0 and x0 + x1 are the
        // same float, since IEEE addition commutes.
        float* o = a + off;
        if (world_ == 2) {
          addFloats(o, slot(set, 1 - rank_), len);
        } else {
          copyFloats(o, slot(set, 0), len);
          for (int q = 1; q < world_; q++) addFloats(o, slot(set, q), len);
        }
        if (avg) divideFloats(o, len, divisor);
        break;
      }
      case OpCode::ReduceScatter: {
        float* o = b + off;
        copyFloats(o, slot(set, 0) + me * len, len);
        for (int q = 1; q < world_; q++) addFloats(o, slot(set, q) + me * len, len);
        if (avg) divideFloats(o, len, divisor);
        break;
      }
      case OpCode::AllGather:
        for (int q = 0; q < world_; q++) copyFloats(b + static_cast<size_t>(q) * count + off, slot(set, q), len);
        break;
      case OpCode::Broadcast:
        if (rank_ != d.root) copyFloats(a + off, slot(set, d.root), len);
        break;
      case OpCode::Barrier:
        break;
    }
  }
  ops_++;
  return out;
}

}  // namespace weft::shm
