// Collectives between processes of one machine through a shared-memory segment (what Open MPI's
// shared-memory transport and NCCL's intra-node paths do): every rank copies its data into its
// own slot of the segment, waits until all ranks have, and reads the others' slots directly. No
// socket, no kernel copy, no thread hop; a wait spins for a while (the peer is usually a few
// hundred microseconds behind) and then sleeps on a futex.
//
// Note [shm chunk protocol]
// Each operation is cut into chunks of at most `chunkFloats` per slot. A chunk is:
//   write my slot;  arrive, and wait until every rank has;  read the slots I need into the
//   caller's output (all-reduce: every rank sums the whole chunk itself, in rank order).
// One barrier per chunk suffices because consecutive chunks alternate between two sets of slots:
// a rank writes set s again only at chunk j+2, after passing the barrier of chunk j+1, which
// every rank reaches only once it has finished reading chunk j. The counter of chunks is
// group-wide (not per operation), so the argument holds across operations.
// Every operation has at least one chunk, and its first barrier is followed by a comparison of the
// descriptors every rank wrote (operation, count, root, reduce op): ranks that called different
// collectives or passed different sizes all see the same table and all fail together. The
// descriptors alternate by operation parity for the same reason the slots alternate by chunk.
// Summing the whole chunk on every rank costs (worldSize - 1) reads per element instead of a
// share, but it saves a second barrier and the copy of a result area, which is what costs at two
// ranks (where the sum is one add into the caller's own buffer) and for small messages.
//
// Note [shm arrival counters]
// Each rank owns one 32-bit counter that it increments at every barrier it arrives at; "all
// arrived at my n-th barrier" is "every counter has reached n" (compared modulo 2^32). A waiter
// that gives up spinning announces itself in the counter's `waiters` word before it sleeps, and
// an arriving rank calls futex wake only when that word is non-zero: both sides use sequentially
// consistent operations, so either the arriver sees the waiter or the waiter sees the new count.
//
// Note [shm arrival stamps]
// Each rank also stamps, in its descriptor, when it started the operation (CLOCK_MONOTONIC, one
// clock for every process of the machine). After the first barrier every rank reads the others'
// stamps: "I waited this long for rank r" is r's stamp minus mine, or 0 when r was first. This is
// the flight recorder's per-peer wait (src/distributed/group/flight-recorder.ts) and so the
// straggler score. The stamp is in µs modulo 2^32 (the difference of two is exact within 35
// minutes of each other), so that it fits the descriptor's spare word, in the cache line the
// descriptor check reads anyway: a field of its own would cost every operation a cache miss per
// peer. The stamps alternate by operation parity with the descriptors, and are read after the
// barrier their writers passed, so a reader never sees the next operation's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace weft::shm {

enum class OpCode : uint32_t { AllReduce = 1, ReduceScatter = 2, AllGather = 3, Broadcast = 4, Barrier = 5 };
enum class Reduce : uint32_t { None = 0, Sum = 1, Avg = 2 };

/** What a rank called; compared across ranks at the start of every operation. */
struct Descriptor {
  uint32_t op = 0;
  uint32_t reduce = 0;
  int32_t root = -1;
  /** When this rank started the operation, in µs of CLOCK_MONOTONIC modulo 2^32 (Note [shm arrival stamps]); not compared. */
  uint32_t arriveUs = 0;
  uint64_t count = 0;
};

enum class Status { Ok, Timeout, PeerLost, Mismatch, Failed };

struct Outcome {
  Status status = Status::Ok;
  /** Timeout: ranks that never arrived. PeerLost: ranks whose process is gone. */
  std::vector<int> ranks;
  /** Mismatch: every rank's descriptor. */
  std::vector<Descriptor> descriptors;
};

class Group {
 public:
  /**
   * Creates (rank 0, `create`) or attaches to the segment `name` (a POSIX shm name, "/weft-…").
   * Throws std::runtime_error with the reason when the segment cannot be made or does not match.
   */
  Group(const std::string& name, int worldSize, int rank, size_t chunkFloats, bool create);
  ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  /**
   * Runs one operation. `a`/`b` are the caller's buffers: all-reduce and broadcast use `a` in
   * place; reduce-scatter reads `a` (worldSize × count) and writes `b` (count); all-gather reads
   * `a` (count) and writes `b` (worldSize × count). After a failure every later call returns
   * Status::Failed: the ranks' counters no longer agree. `waitedMs` (worldSize doubles, or null)
   * receives how long this rank waited for each rank to arrive (Note [shm arrival stamps]).
   */
  Outcome run(const Descriptor& d, float* a, float* b, int64_t timeoutMs, int64_t spinUs, double* waitedMs);

  int worldSize() const { return world_; }

 private:
  struct Deadline;
  Status arriveAndWait(const Deadline& dl, Outcome* out);
  void arrive();
  Status waitAll(const Deadline& dl, Outcome* out);
  float* slot(int set, int rank) const;
  bool descriptorsAgree(Outcome* out) const;

  int world_;
  int rank_;
  size_t chunk_;
  size_t bytes_ = 0;
  uint8_t* base_ = nullptr;
  uint32_t arrivals_ = 0;
  uint64_t chunks_ = 0;
  uint64_t ops_ = 0;
  bool failed_ = false;
};

}  // namespace weft::shm
