// Small all-reduces over TCP on the calling thread: Note [fast link frames] in tcp-fast.h.
#include "dist/tcp-fast.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace weft::fast {

namespace {

constexpr uint32_t kMagic = 0x46544657;  // "WFTF" little-endian
constexpr size_t kHeaderBytes = 16;
/** Longest sleep in poll() between looks at the failure flag and the deadline. */
constexpr int kPollSliceMs = 2;
/** Floats added at a time in an all-reduce in halves (Note [all-reduce in halves]): 64 KiB, sent on as soon as added. */
constexpr uint32_t kReduceBlock = 16384;

int64_t nowUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

constexpr uint32_t kAnnounceBit = 0x80;

void encodeHeader(const Call& c, uint8_t* h) {
  const uint32_t op = c.op | (c.announce ? kAnnounceBit : 0);
  const uint32_t words[4] = {kMagic, c.seq, op | (c.reduce << 8) | (c.root << 16), c.count};
  std::memcpy(h, words, kHeaderBytes);
}

Call decodeHeader(const uint8_t* h, uint32_t* magic) {
  uint32_t words[4];
  std::memcpy(words, h, kHeaderBytes);
  *magic = words[0];
  Call c;
  c.seq = words[1];
  c.op = words[2] & 0x7f;
  c.announce = (words[2] & kAnnounceBit) != 0;
  c.reduce = (words[2] >> 8) & 0xff;
  c.root = words[2] >> 16;
  c.count = words[3];
  return c;
}

bool sameCall(const Call& a, const Call& b) {
  return a.seq == b.seq && a.op == b.op && a.reduce == b.reduce && a.root == b.root && a.count == b.count;
}

/**
 * Whether the comm thread found the group failed (Note [the failure in shared memory]): 1, or 2
 * (only a peer's link closed, a crash or a silent peer) between two ranks, where that peer is the
 * one every collective needs. A frozen peer's fast link stays open, so the comm thread's
 * heartbeats are how a fast collective learns of it before its deadline.
 */
bool groupFailed(const Links& links) {
  const int32_t flag = *links.failedFlag;
  return flag == 1 || (flag == 2 && links.worldSize == 2);
}

enum class Verdict { Matches, Skip, Failed };

/**
 * A peer's header against this rank's call: it matches, or it announces a collective both of us
 * ran on the comm thread (Note [announcements]: skip to the next header), or it is a failure,
 * written into `out` (a protocol error, or a mismatch naming their call).
 */
Verdict judgeHeader(const uint8_t* header, const Call& mine, int from, Outcome& out) {
  uint32_t magic = 0;
  const Call theirs = decodeHeader(header, &magic);
  if (magic != kMagic) {
    out.status = Status::Protocol;
    out.ranks = {from};
    return Verdict::Failed;
  }
  if (theirs.announce && theirs.seq < mine.seq) return Verdict::Skip;
  if (theirs.announce || !sameCall(theirs, mine)) {
    out.status = Status::Mismatch;
    out.ranks = {from};
    out.theirs = theirs;
    return Verdict::Failed;
  }
  return Verdict::Matches;
}

bool wouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

/** Hands the kernel what it takes of `iov` now, adding it to `sent`; false once the link failed. */
bool sendSome(int fd, iovec* iov, int n, size_t& sent, bool& progress) {
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = static_cast<size_t>(n);
  const ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (w > 0) {
    sent += static_cast<size_t>(w);
    progress = true;
  }
  return w > 0 || (w < 0 && wouldBlock(errno)) || w == 0;
}

/** One message out to `sendTo` and/or one in from `recvFrom` (-1: none), both moving at once. */
struct Step {
  int sendTo = -1;
  const float* sendData = nullptr;
  int recvFrom = -1;
  float* recvData = nullptr;
  uint32_t count = 0;
};

class Exchanger {
 public:
  Exchanger(const Links& links, const Call& mine, int64_t startUs, int64_t deadlineUs, int64_t spinUs)
      : links_(links), mine_(mine), startUs_(startUs), deadlineUs_(deadlineUs), spinUs_(spinUs) {
    encodeHeader(mine, header_);
  }

  Status run(const Step& s, Outcome& out) {
    const size_t payload = static_cast<size_t>(s.count) * 4;
    const int sfd = s.sendTo >= 0 ? links_.fds[s.sendTo] : -1;
    const int rfd = s.recvFrom >= 0 ? links_.fds[s.recvFrom] : -1;
    size_t sent = 0, got = 0;
    const size_t sendTotal = sfd >= 0 ? kHeaderBytes + payload : 0;
    const size_t recvTotal = rfd >= 0 ? kHeaderBytes + payload : 0;
    uint8_t theirHeader[kHeaderBytes];
    int64_t lastProgress = nowUs();
    while (sent < sendTotal || got < recvTotal) {
      bool progress = false;
      if (sent < sendTotal) {
        iovec iov[2];
        int n = 0;
        if (sent < kHeaderBytes) iov[n++] = {header_ + sent, kHeaderBytes - sent};
        const size_t from = sent > kHeaderBytes ? sent - kHeaderBytes : 0;
        if (payload > from) iov[n++] = {const_cast<float*>(s.sendData) + from / 4, payload - from};
        if (!sendSome(sfd, iov, n, sent, progress)) return lost(out, s.sendTo);
      }
      if (got < recvTotal) {
        uint8_t* into = got < kHeaderBytes ? theirHeader + got : reinterpret_cast<uint8_t*>(s.recvData) + (got - kHeaderBytes);
        const size_t want = got < kHeaderBytes ? kHeaderBytes - got : recvTotal - got;
        const ssize_t r = recv(rfd, into, want, MSG_DONTWAIT);
        if (r > 0) {
          const bool headerWas = got < kHeaderBytes;
          got += static_cast<size_t>(r);
          progress = true;
          if (headerWas && got >= kHeaderBytes) {
            const Verdict v = judgeHeader(theirHeader, mine_, s.recvFrom, out);
            if (v == Verdict::Failed) return out.status;
            if (v == Verdict::Skip) {
              got = 0;
              continue;
            }
            if (links_.waits != nullptr) links_.waits[s.recvFrom] = static_cast<double>(nowUs() - startUs_) / 1000.0;
          }
        } else if (r == 0 || !wouldBlock(errno)) {
          return lost(out, s.recvFrom);
        }
      }
      if (progress) {
        lastProgress = nowUs();
        continue;
      }
      if (groupFailed(links_)) {
        out.status = Status::Failed;
        return out.status;
      }
      const int64_t t = nowUs();
      if (t >= deadlineUs_) {
        out.status = Status::Timeout;
        out.ranks = {got < recvTotal ? s.recvFrom : s.sendTo};
        return out.status;
      }
      if (t - lastProgress < spinUs_) {
        cpuRelax();
        continue;
      }
      pollfd fds[2];
      nfds_t n = 0;
      if (sent < sendTotal) fds[n++] = {sfd, POLLOUT, 0};
      if (got < recvTotal) fds[n++] = {rfd, POLLIN, 0};
      const int64_t leftMs = (deadlineUs_ - t + 999) / 1000;
      poll(fds, n, static_cast<int>(leftMs < kPollSliceMs ? leftMs : kPollSliceMs));
    }
    return Status::Ok;
  }

 private:
  Status lost(Outcome& out, int peer) {
    out.status = Status::PeerLost;
    out.ranks = {peer};
    return out.status;
  }

  const Links& links_;
  Call mine_;
  int64_t startUs_;
  int64_t deadlineUs_;
  int64_t spinUs_;
  uint8_t header_[kHeaderBytes];
};

void addInto(float* dst, const float* src, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) dst[i] += src[i];
}

}  // namespace

Outcome allReduce(const Links& links, uint32_t seq, uint32_t op, uint32_t reduce, float* buf, uint32_t count, float* scratch,
                  int64_t timeoutMs, int64_t spinUs) {
  Outcome out;
  Call mine;
  mine.seq = seq;
  mine.op = op;
  mine.reduce = reduce;
  mine.count = count;
  if (links.waits != nullptr) std::fill(links.waits, links.waits + links.worldSize, 0.0);
  const int64_t start = nowUs();
  Exchanger ex(links, mine, start, start + timeoutMs * 1000, spinUs);
  const int w = links.worldSize, r = links.rank;
  int p = 1;
  while (p * 2 <= w) p *= 2;
  const int extra = w - p;
  auto step = [&](int sendTo, int recvFrom, float* into) {
    Step s;
    s.sendTo = sendTo;
    s.sendData = buf;
    s.recvFrom = recvFrom;
    s.recvData = into;
    s.count = count;
    return ex.run(s, out);
  };
  if (r >= p) {
    // An extra rank: hand over our values, then receive the result straight into the buffer.
    if (step(r - p, -1, nullptr) != Status::Ok) return out;
    step(-1, r - p, buf);
    return out;
  }
  if (r < extra) {
    if (step(-1, r + p, scratch) != Status::Ok) return out;
    addInto(buf, scratch, count);
  }
  for (int mask = 1; mask < p; mask <<= 1) {
    const int partner = r ^ mask;
    if (step(partner, partner, scratch) != Status::Ok) return out;
    addInto(buf, scratch, count);
  }
  if (reduce == 2) {
    const float n = static_cast<float>(w);
    for (uint32_t i = 0; i < count; i++) buf[i] = buf[i] / n;
  }
  if (r < extra) step(r + p, -1, nullptr);
  return out;
}

Outcome allReduceHalves(const Links& links, uint32_t seq, uint32_t reduce, float* buf, uint32_t count, float* scratch, int64_t timeoutMs,
                        int64_t spinUs) {
  // Note [all-reduce in halves].
  Outcome out;
  Call mine;
  mine.seq = seq;
  mine.op = 1;
  mine.reduce = reduce;
  mine.root = kHalvesAlgorithm;
  mine.count = count;
  const int peer = 1 - links.rank;
  const int fd = links.fds[peer];
  const uint32_t half = count / 2;
  const uint32_t mineAt = links.rank == 0 ? 0 : half, mineN = links.rank == 0 ? half : count - half;
  const uint32_t peerAt = links.rank == 0 ? half : 0, peerN = count - mineN;
  uint8_t header[kHeaderBytes], theirHeader[kHeaderBytes];
  encodeHeader(mine, header);
  // Out: header | buf[peer's half] | buf[own half], reduced. In: header | their copy of our half (to scratch) | their half, reduced (to buf).
  const size_t total = kHeaderBytes + 4 * static_cast<size_t>(count);
  const size_t aEnd = kHeaderBytes + 4 * static_cast<size_t>(peerN);  // where our outgoing own half starts
  const size_t inAEnd = kHeaderBytes + 4 * static_cast<size_t>(mineN);
  size_t sent = 0, got = 0;
  uint32_t reduced = 0;
  bool headerSeen = false;
  const int64_t start = nowUs(), deadline = start + timeoutMs * 1000;
  int64_t lastProgress = start;
  auto region = [](const uint8_t* base, size_t from, size_t to) { return iovec{const_cast<uint8_t*>(base) + from, to - from}; };
  while (sent < total || got < total || reduced < mineN) {
    bool progress = false;
    // Send what is ready: the header, the peer's half, and as much of ours as is reduced.
    const size_t ready = aEnd + 4 * static_cast<size_t>(reduced);
    if (sent < ready) {
      iovec iov[3];
      int n = 0;
      if (sent < kHeaderBytes) iov[n++] = region(header, sent, kHeaderBytes);
      if (sent < aEnd) iov[n++] = region(reinterpret_cast<const uint8_t*>(buf + peerAt), std::max(sent, kHeaderBytes) - kHeaderBytes, aEnd - kHeaderBytes);
      if (ready > aEnd) iov[n++] = region(reinterpret_cast<const uint8_t*>(buf + mineAt), std::max(sent, aEnd) - aEnd, ready - aEnd);
      if (!sendSome(fd, iov, n, sent, progress)) {
        out.status = Status::PeerLost;
        out.ranks = {peer};
        return out;
      }
    }
    // Receive what may land: their reduced half only where our send of the same floats is done.
    const size_t sentA = sent > kHeaderBytes ? std::min(sent, aEnd) - kHeaderBytes : 0;
    const size_t allowed = inAEnd + sentA;
    if (got < allowed) {
      uint8_t* into;
      size_t want;
      if (got < kHeaderBytes) {
        into = theirHeader + got;
        want = kHeaderBytes - got;
      } else if (got < inAEnd) {
        into = reinterpret_cast<uint8_t*>(scratch) + (got - kHeaderBytes);
        want = inAEnd - got;
      } else {
        into = reinterpret_cast<uint8_t*>(buf + peerAt) + (got - inAEnd);
        want = allowed - got;
      }
      const ssize_t r = recv(fd, into, want, MSG_DONTWAIT);
      if (r > 0) {
        got += static_cast<size_t>(r);
        progress = true;
        if (!headerSeen && got >= kHeaderBytes) {
          const Verdict v = judgeHeader(theirHeader, mine, peer, out);
          if (v == Verdict::Failed) return out;
          if (v == Verdict::Skip) {
            got = 0;
            continue;
          }
          headerSeen = true;
          if (links.waits != nullptr) links.waits[peer] = static_cast<double>(nowUs() - start) / 1000.0;
        }
      } else if (r == 0 || !wouldBlock(errno)) {
        out.status = Status::PeerLost;
        out.ranks = {peer};
        return out;
      }
    }
    // Add what came of our half, a block at a time (or the rest, once it is all here).
    const uint32_t arrived = got > kHeaderBytes ? static_cast<uint32_t>((std::min(got, inAEnd) - kHeaderBytes) / 4) : 0;
    if (arrived > reduced && (arrived - reduced >= kReduceBlock || arrived == mineN)) {
      float* own = buf + mineAt;
      for (uint32_t i = reduced; i < arrived; i++) own[i] = own[i] + scratch[i];
      if (reduce == 2) {
        for (uint32_t i = reduced; i < arrived; i++) own[i] = own[i] / 2.0f;
      }
      reduced = arrived;
      progress = true;
    }
    if (progress) {
      lastProgress = nowUs();
      continue;
    }
    if (groupFailed(links)) {
      out.status = Status::Failed;
      return out;
    }
    const int64_t t = nowUs();
    if (t >= deadline) {
      out.status = Status::Timeout;
      out.ranks = {peer};
      return out;
    }
    if (t - lastProgress < spinUs) {
      cpuRelax();
      continue;
    }
    pollfd pf{fd, static_cast<short>((sent < ready ? POLLOUT : 0) | (got < allowed ? POLLIN : 0)), 0};
    const int64_t leftMs = (deadline - t + 999) / 1000;
    poll(&pf, 1, static_cast<int>(leftMs < kPollSliceMs ? leftMs : kPollSliceMs));
  }
  return out;
}

Outcome announce(const Links& links, Call call, int64_t timeoutMs) {
  Outcome out;
  call.announce = true;
  uint8_t header[kHeaderBytes];
  encodeHeader(call, header);
  const int64_t deadline = nowUs() + timeoutMs * 1000;
  for (int p = 0; p < links.worldSize; p++) {
    if (p == links.rank) continue;
    const int fd = links.fds[p];
    size_t sent = 0;
    while (sent < kHeaderBytes) {
      const ssize_t w = send(fd, header + sent, kHeaderBytes - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) {
        sent += static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && !wouldBlock(errno)) {
        out.status = Status::PeerLost;
        out.ranks = {p};
        return out;
      }
      // The peer has not read its link for a long while (thousands of announcements): wait for room.
      const int64_t t = nowUs();
      if (t >= deadline) {
        out.status = Status::Timeout;
        out.ranks = {p};
        return out;
      }
      pollfd pf{fd, POLLOUT, 0};
      poll(&pf, 1, kPollSliceMs);
    }
  }
  // Drain: consume what is for collectives up to this one, compare what is for this one.
  for (int p = 0; p < links.worldSize; p++) {
    if (p == links.rank) continue;
    for (;;) {
      uint8_t theirHeader[kHeaderBytes];
      const ssize_t r = recv(links.fds[p], theirHeader, kHeaderBytes, MSG_PEEK | MSG_DONTWAIT);
      if (r < static_cast<ssize_t>(kHeaderBytes)) break;  // nothing whole yet (a closed link shows in the next fast collective)
      uint32_t magic = 0;
      const Call theirs = decodeHeader(theirHeader, &magic);
      if (magic != kMagic) {
        out.status = Status::Protocol;
        out.ranks = {p};
        return out;
      }
      if (theirs.seq > call.seq) break;  // the peer is ahead: for a later collective to read
      const bool agrees = theirs.announce && (theirs.seq < call.seq || sameCall(theirs, call));
      if (!agrees) {
        out.status = Status::Mismatch;
        out.ranks = {p};
        out.theirs = theirs;
        return out;
      }
      recv(links.fds[p], theirHeader, kHeaderBytes, MSG_DONTWAIT);
    }
  }
  return out;
}

}  // namespace weft::fast
