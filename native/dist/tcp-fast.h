// Small all-reduces over TCP on the calling thread (what Open MPI's TCP transport does): each
// rank owns one socket per peer, non-blocking, and a collective writes and reads them in a loop
// that spins while the peer is a few microseconds away and then sleeps in poll(). No thread hop
// and no event loop: a 4-byte all-reduce between two processes is a write and a read each.
//
// Note [fast link frames]
// Every message on a fast link is a 16-byte header and its payload:
//   magic u32 ("WFTF") | seq u32 | op u8, reduce u8, root u16 | count u32 | count float32s
// `seq` is the collective's number in the group (on either path), so it is the same on both ends
// of every message of one operation; op, reduce, root and count describe the call. A receiver
// compares the header with its own call before it reads the payload: ranks that called different
// collectives, or passed different sizes, fail with a mismatch naming both calls, instead of
// reading each other's bytes as floats. A header with the wrong magic is a protocol error (the
// link is not a Weft fast link any more), reported as a failure of the link.
//
// Note [announcements]: a collective that runs on the comm thread instead is announced on every
// fast link, a header with bit 7 of op set and no payload, so that a peer which took the fast
// path for the same number (their calls differ) reads the announcement where it waits for data,
// and fails at once with a mismatch naming both calls rather than at its deadline. Announcements
// of earlier collectives, which both sides ran on the comm thread, are skipped by a reader. The
// announcing rank also drains what its links hold without waiting (drainAnnouncements): peers'
// announcements of collectives up to its own are consumed (compared when of the same number),
// and a peer's fast data for the same number is a mismatch too; whatever is for a later number
// stays for the collective that will read it.
//
// The algorithm is recursive doubling (src/distributed/collectives/recursive-doubling.ts, Note
// [recursive-doubling reduction order]) with the same fold-in, rounds and fold-out, so a result
// here has the bits the comm thread's recursive doubling gives: every addition adds the same two
// float32 operands on both partners, and "avg" divides the sum by the world size at the end.
//
// A received payload lands in scratch and is added into the caller's buffer only once this
// rank's own send of that buffer has been handed to the kernel whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace weft::fast {

enum class Status : int { Ok = 0, Timeout = 1, PeerLost = 2, Mismatch = 3, Failed = 4, Protocol = 5 };

/** A rank's call as its header says it (Note [fast link frames]). */
struct Call {
  uint32_t seq = 0;
  /** The shared-memory path's operation codes (1 all-reduce .. 5 barrier). */
  uint32_t op = 0;
  uint32_t reduce = 0;
  uint32_t root = 0;
  uint32_t count = 0;
  /** An announcement of a collective on the comm thread (Note [announcements]). */
  bool announce = false;
};

struct Outcome {
  Status status = Status::Ok;
  /** Timeout: the ranks not heard from; PeerLost, Mismatch, Protocol: the peer. */
  std::vector<int> ranks;
  /** Mismatch: what the peer called. */
  Call theirs;
};

struct Links {
  /** fds[r]: the socket to rank r (-1 for this rank). */
  const int32_t* fds;
  int rank;
  int worldSize;
  /** 1 once the group has failed elsewhere (Note [the failure in shared memory] in src/distributed/executors/comm-messages.ts): stop waiting. */
  const volatile int32_t* failedFlag;
  /** worldSize numbers, or null: ms from the operation's start until each partner's header came (Note [per-peer waits]). */
  double* waits;
};

/**
 * All-reduce of `count` floats in `buf` (op 1; op 5, a barrier, passes count 0), reduce 1 sum or
 * 2 avg, with `scratch` of at least `count` floats. Blocks until done, failed or past timeoutMs;
 * spins for spinUs between sleeps.
 */
Outcome allReduce(const Links& links, uint32_t seq, uint32_t op, uint32_t reduce, float* buf, uint32_t count, float* scratch,
                  int64_t timeoutMs, int64_t spinUs);

/**
 * Note [all-reduce in halves]: between two ranks, an all-reduce past the calling thread's size
 * runs as one pipelined exchange instead of recursive doubling. Rank 0 owns the first half of the
 * buffer (count / 2 floats, rounded down), rank 1 the rest. Each link then carries, in one stream
 * after the header, the half the peer owns and, behind it, this rank's own half once reduced:
 * received copies of the own half land in scratch and are added into the buffer a block at a
 * time as they come (buf[i] = buf[i] + theirs[i]), and each reduced block is sent at once, so
 * sending, receiving and adding overlap. The peer's reduced half lands straight in the buffer,
 * never ahead of this rank's send of the same bytes (which the peer needed first, so the data
 * cannot come sooner; the loop checks it anyway). Every element is added once, by its owner, and
 * float addition of two operands is commutative, so both ranks end with the owner's bits: those
 * that recursive doubling and the ring give between two ranks too. "avg" divides by 2 before the
 * reduced half is sent. The header carries root = kHalvesAlgorithm, so a peer that ran recursive
 * doubling for the same call (another size threshold) fails with a mismatch rather than reading
 * halves as wholes.
 */
constexpr uint32_t kHalvesAlgorithm = 1;

/** All-reduce of `count` floats between exactly two ranks, in halves; scratch holds at least count - count / 2 floats. */
Outcome allReduceHalves(const Links& links, uint32_t seq, uint32_t reduce, float* buf, uint32_t count, float* scratch, int64_t timeoutMs,
                        int64_t spinUs);

/**
 * Announces `call` (a collective on the comm thread) on every link, waiting at most timeoutMs for
 * room to write, then drains the links without waiting (Note [announcements]).
 */
Outcome announce(const Links& links, Call call, int64_t timeoutMs);

}  // namespace weft::fast
