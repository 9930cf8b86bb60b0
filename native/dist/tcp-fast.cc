// Small all-reduces over TCP on the calling thread: Note [fast link frames] in tcp-fast.h.
#include "dist/tcp-fast.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <cerrno>
#include <cstring>

namespace weft::fast {

namespace {

constexpr uint32_t kMagic = 0x46544657;  // "WFTF" little-endian
constexpr size_t kHeaderBytes = 16;
/** Longest sleep in poll() between looks at the failure flag and the deadline. */
constexpr int kPollSliceMs = 2;

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

void encodeHeader(const Call& c, uint8_t* h) {
  const uint32_t words[4] = {kMagic, c.seq, c.op | (c.reduce << 8), c.count};
  std::memcpy(h, words, kHeaderBytes);
}

Call decodeHeader(const uint8_t* h, uint32_t* magic) {
  uint32_t words[4];
  std::memcpy(words, h, kHeaderBytes);
  *magic = words[0];
  Call c;
  c.seq = words[1];
  c.op = words[2] & 0xff;
  c.reduce = (words[2] >> 8) & 0xff;
  c.count = words[3];
  return c;
}

bool wouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

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
  Exchanger(const Links& links, const Call& mine, int64_t deadlineUs, int64_t spinUs)
      : links_(links), mine_(mine), deadlineUs_(deadlineUs), spinUs_(spinUs) {
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
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = n;
        const ssize_t w = sendmsg(sfd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
          sent += static_cast<size_t>(w);
          progress = true;
        } else if (w < 0 && !wouldBlock(errno)) {
          return lost(out, s.sendTo);
        }
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
            uint32_t magic = 0;
            const Call theirs = decodeHeader(theirHeader, &magic);
            if (magic != kMagic) {
              out.status = Status::Protocol;
              out.ranks = {s.recvFrom};
              return out.status;
            }
            if (theirs.seq != mine_.seq || theirs.op != mine_.op || theirs.reduce != mine_.reduce || theirs.count != mine_.count) {
              out.status = Status::Mismatch;
              out.ranks = {s.recvFrom};
              out.theirs = theirs;
              return out.status;
            }
          }
        } else if (r == 0 || !wouldBlock(errno)) {
          return lost(out, s.recvFrom);
        }
      }
      if (progress) {
        lastProgress = nowUs();
        continue;
      }
      if (*links_.failedFlag == 1) {
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
  const Call mine{seq, op, reduce, count};
  Exchanger ex(links, mine, nowUs() + timeoutMs * 1000, spinUs);
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

}  // namespace weft::fast
