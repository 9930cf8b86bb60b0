// Bindings of the calling thread's TCP links (native/dist/tcp-fast.h) for
// src/distributed/executors/fast-links.ts and fast-executor.ts:
//   fastListen(host) -> [fd, port]          a non-blocking listening socket on host, port chosen
//   fastAccept(fd) -> fd | -1               -1: nobody is waiting
//   fastConnect(host, port) -> fd           a non-blocking connect, in progress
//   fastConnectResult(fd) -> 0 | 1 | -errno 0: still connecting, 1: connected
//   fastWrite(fd, bytes) / fastRead(fd, bytes) -> bytes moved | -errno (-11: would block; read 0: closed)
//   fastShutdown(fd), fastClose(fd)
//   fastAllReduce(fds, rank, worldSize, failedFlag, seq, op, reduce, buf, count, scratch, timeoutMs, spinUs, waits)
//     waits: null, or worldSize + 2 numbers: the waits, filled on success (Note [per-peer waits]),
//     then the call's span, always (Note [native call spans] in flight-recorder.ts)
//   fastAnnounce(fds, rank, worldSize, seq, op, reduce, root, count, timeoutMs)
//     -> null | { status, ranks, theirs: { seq, op, reduce, root, count, announce } }
//   fastAllReduceHalves(fds, rank, worldSize, failedFlag, seq, reduce, buf, count, scratch, timeoutMs, spinUs, waits)
//     -> Promise<null | { status, ... }>   two ranks only; runs on a thread of libuv's pool
// fastAllReduce blocks (up to its deadline); fastAllReduceHalves runs elsewhere and leaves the
// calling thread free (the caller must leave its buffers alone until the promise settles); the
// set-up calls never block, so the links are made from JavaScript timers without stopping the
// event loop.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "bind/args.h"
#include "bind/monotonic.h"
#include "dist/tcp-fast.h"
#include "registry.h"

namespace weft {

namespace {

void setNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }

void setNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

[[noreturn]] void throwErrno(Napi::Env env, const char* fn, const std::string& what, int err) {
  throw Napi::Error::New(env, std::string(fn) + ": " + what + ": " + std::strerror(err));
}

/** host (numeric or a name) and port as a socket address; throws naming the host. */
addrinfo* resolve(Napi::Env env, const char* fn, const std::string& host, int port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (passive) hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) throw Napi::Error::New(env, std::string(fn) + ": cannot resolve " + host + ": " + gai_strerror(rc));
  return res;
}

Napi::Value FastListen(const Napi::CallbackInfo& info) {
  const char* k = "fastListen";
  Napi::Env env = info.Env();
  const std::string host = strArg(info, 0);
  addrinfo* ai = resolve(env, k, host, 0, true);
  const int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(ai);
    throwErrno(env, k, "socket", errno);
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
    const int err = errno;
    freeaddrinfo(ai);
    close(fd);
    throwErrno(env, k, "listen on " + host, err);
  }
  freeaddrinfo(ai);
  setNonBlocking(fd);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  const int port = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port) : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  auto out = Napi::Array::New(env, 2);
  out.Set(0u, fd);
  out.Set(1u, port);
  return out;
}

Napi::Value FastAccept(const Napi::CallbackInfo& info) {
  const int fd = accept4(static_cast<int>(intArg(info, 0)), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) return Napi::Number::New(info.Env(), -1);
    throwErrno(info.Env(), "fastAccept", "accept", errno);
  }
  setNoDelay(fd);
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value FastConnect(const Napi::CallbackInfo& info) {
  const char* k = "fastConnect";
  Napi::Env env = info.Env();
  const std::string host = strArg(info, 0);
  const int port = static_cast<int>(intArg(info, 1));
  addrinfo* ai = resolve(env, k, host, port, false);
  const int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(ai);
    throwErrno(env, k, "socket", errno);
  }
  setNoDelay(fd);
  const int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
  const int err = errno;
  freeaddrinfo(ai);
  if (rc != 0 && err != EINPROGRESS) {
    close(fd);
    throwErrno(env, k, "connect to " + host + ":" + std::to_string(port), err);
  }
  return Napi::Number::New(env, fd);
}

Napi::Value FastConnectResult(const Napi::CallbackInfo& info) {
  const int fd = static_cast<int>(intArg(info, 0));
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, 0) == 0) return Napi::Number::New(info.Env(), 0);
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  return Napi::Number::New(info.Env(), err == 0 ? 1 : -err);
}

Napi::Value FastWrite(const Napi::CallbackInfo& info) {
  auto bytes = info[1].As<Napi::Uint8Array>();
  const ssize_t n = send(static_cast<int>(intArg(info, 0)), bytes.Data(), bytes.ByteLength(), MSG_NOSIGNAL | MSG_DONTWAIT);
  return Napi::Number::New(info.Env(), n >= 0 ? static_cast<double>(n) : -errno);
}

Napi::Value FastRead(const Napi::CallbackInfo& info) {
  auto bytes = info[1].As<Napi::Uint8Array>();
  const ssize_t n = recv(static_cast<int>(intArg(info, 0)), bytes.Data(), bytes.ByteLength(), MSG_DONTWAIT);
  return Napi::Number::New(info.Env(), n >= 0 ? static_cast<double>(n) : -errno);
}

Napi::Value FastShutdown(const Napi::CallbackInfo& info) {
  shutdown(static_cast<int>(intArg(info, 0)), SHUT_RDWR);
  return info.Env().Undefined();
}

Napi::Value FastClose(const Napi::CallbackInfo& info) {
  close(static_cast<int>(intArg(info, 0)));
  return info.Env().Undefined();
}

struct Peers {
  const int32_t* fds;
  int rank;
  int world;
};

/** Arguments 0-2 of the collectives: the sockets by rank, this rank, the world size. */
Peers peersArg(const Napi::CallbackInfo& info, const char* k) {
  const Span<int32_t> fds = i32Arg(info, 0, k, "fds");
  const int rank = static_cast<int>(intArg(info, 1));
  const int world = static_cast<int>(intArg(info, 2));
  if (fds.length != static_cast<size_t>(world) || rank < 0 || rank >= world) throwArg(info.Env(), k, "fds must hold worldSize descriptors and rank lie within them");
  return {fds.data, rank, world};
}

/** null for success; otherwise what failed and who, for fast-executor.ts to word as the usual errors. */
Napi::Value outcomeValue(Napi::Env env, const fast::Outcome& out) {
  if (out.status == fast::Status::Ok) return env.Null();
  static const char* const kNames[] = {"ok", "timeout", "peerLost", "mismatch", "failed", "protocol"};
  auto r = Napi::Object::New(env);
  r.Set("status", kNames[static_cast<int>(out.status)]);
  auto ranks = Napi::Array::New(env, out.ranks.size());
  for (size_t i = 0; i < out.ranks.size(); i++) ranks.Set(static_cast<uint32_t>(i), out.ranks[i]);
  r.Set("ranks", ranks);
  auto theirs = Napi::Object::New(env);
  theirs.Set("seq", out.theirs.seq);
  theirs.Set("op", out.theirs.op);
  theirs.Set("reduce", out.theirs.reduce);
  theirs.Set("count", out.theirs.count);
  theirs.Set("root", out.theirs.root);
  theirs.Set("announce", out.theirs.announce);
  r.Set("theirs", theirs);
  return r;
}

Napi::Value FastAllReduce(const Napi::CallbackInfo& info) {
  const char* k = "fastAllReduce";
  Napi::Env env = info.Env();
  const Peers peers = peersArg(info, k);
  const Span<int32_t> flag = i32Arg(info, 3, k, "failedFlag");
  const int world = peers.world;
  if (flag.length < 1) throwArg(env, k, "failedFlag must hold one number");
  const int64_t count = intArg(info, 8);
  if (count < 0 || count > 0x3fffffff) throwArg(env, k, "count out of range");
  const Span<float> buf = f32OrNull(info, 7, k, "buf");
  const Span<float> scratch = f32OrNull(info, 9, k, "scratch");
  if (count > 0) {
    requireLength(env, buf, static_cast<size_t>(count), k, "buf");
    if (scratch.length < static_cast<size_t>(count)) throwArg(env, k, "scratch is shorter than count");
  }
  double* waits = nullptr;
  if (info.Length() > 12 && info[12].IsTypedArray()) {
    auto w = info[12].As<Napi::Float64Array>();
    if (w.ElementLength() == static_cast<size_t>(world) + 2) waits = w.Data();
  }
  fast::Links links{peers.fds, peers.rank, world, flag.data, waits};
  const uint32_t seq = static_cast<uint32_t>(intArg(info, 4)), op = static_cast<uint32_t>(intArg(info, 5)), reduce = static_cast<uint32_t>(intArg(info, 6));
  const int64_t timeoutMs = intArg(info, 10), spinUs = intArg(info, 11);
  const double startMs = monotonicMs();
  const fast::Outcome out = fast::allReduce(links, seq, op, reduce, buf.data, static_cast<uint32_t>(count), scratch.data, timeoutMs, spinUs);
  if (waits != nullptr) {
    waits[world] = startMs;
    waits[world + 1] = monotonicMs();
  }
  return outcomeValue(env, out);
}

Napi::Value FastAnnounce(const Napi::CallbackInfo& info) {
  const char* k = "fastAnnounce";
  Napi::Env env = info.Env();
  const Peers peers = peersArg(info, k);
  static const int32_t kNotFailed = 0;
  fast::Links links{peers.fds, peers.rank, peers.world, &kNotFailed, nullptr};
  fast::Call call;
  call.seq = static_cast<uint32_t>(intArg(info, 3));
  call.op = static_cast<uint32_t>(intArg(info, 4));
  call.reduce = static_cast<uint32_t>(intArg(info, 5));
  call.root = static_cast<uint32_t>(intArg(info, 6));
  call.count = static_cast<uint32_t>(intArg(info, 7));
  return outcomeValue(env, fast::announce(links, call, intArg(info, 8)));
}

/**
 * An all-reduce in halves (Note [all-reduce in halves]) on a thread of libuv's pool: large
 * messages take milliseconds, which the calling thread spends on other work (the backward pass
 * that DDP overlaps with its buckets' all-reduces). The typed arrays are held until it settles.
 */
class HalvesWork : public Napi::AsyncWorker {
 public:
  HalvesWork(const Napi::CallbackInfo& info, const Peers& peers)
      : Napi::AsyncWorker(info.Env()), deferred_(Napi::Promise::Deferred::New(info.Env())), fds_(peers.fds, peers.fds + peers.world) {
    const char* k = "fastAllReduceHalves";
    Napi::Env env = info.Env();
    if (peers.world != 2) throwArg(env, k, "an all-reduce in halves takes exactly two ranks");
    const Span<int32_t> flag = i32Arg(info, 3, k, "failedFlag");
    if (flag.length < 1) throwArg(env, k, "failedFlag must hold one number");
    const int64_t count = intArg(info, 7);
    if (count < 2 || count > 0x3fffffff) throwArg(env, k, "count out of range");
    const Span<float> buf = f32Arg(info, 6, k, "buf");
    const Span<float> scratch = f32Arg(info, 8, k, "scratch");
    requireLength(env, buf, static_cast<size_t>(count), k, "buf");
    if (scratch.length < static_cast<size_t>(count - count / 2)) throwArg(env, k, "scratch is shorter than half of count");
    links_ = {fds_.data(), peers.rank, 2, flag.data, nullptr};
    if (info.Length() > 11 && info[11].IsTypedArray()) {
      auto w = info[11].As<Napi::Float64Array>();
      if (w.ElementLength() == 2) {
        links_.waits = w.Data();
        keep_.push_back(Napi::Persistent(info[11].As<Napi::Object>()));
      }
    }
    for (size_t i : {3, 6, 8}) keep_.push_back(Napi::Persistent(info[i].As<Napi::Object>()));
    seq_ = static_cast<uint32_t>(intArg(info, 4));
    reduce_ = static_cast<uint32_t>(intArg(info, 5));
    buf_ = buf.data;
    count_ = static_cast<uint32_t>(count);
    scratch_ = scratch.data;
    timeoutMs_ = intArg(info, 9);
    spinUs_ = intArg(info, 10);
  }

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override { out_ = fast::allReduceHalves(links_, seq_, reduce_, buf_, count_, scratch_, timeoutMs_, spinUs_); }
  void OnOK() override { deferred_.Resolve(outcomeValue(Env(), out_)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<int32_t> fds_;
  std::vector<Napi::ObjectReference> keep_;
  fast::Links links_{};
  uint32_t seq_ = 0, reduce_ = 0, count_ = 0;
  float* buf_ = nullptr;
  float* scratch_ = nullptr;
  int64_t timeoutMs_ = 0, spinUs_ = 0;
  fast::Outcome out_;
};

Napi::Value FastAllReduceHalves(const Napi::CallbackInfo& info) {
  auto* work = new HalvesWork(info, peersArg(info, "fastAllReduceHalves"));
  Napi::Promise promise = work->promise();
  work->Queue();
  return promise;
}

}  // namespace

WEFT_BINDING("fastListen", FastListen);
WEFT_BINDING("fastAccept", FastAccept);
WEFT_BINDING("fastConnect", FastConnect);
WEFT_BINDING("fastConnectResult", FastConnectResult);
WEFT_BINDING("fastWrite", FastWrite);
WEFT_BINDING("fastRead", FastRead);
WEFT_BINDING("fastShutdown", FastShutdown);
WEFT_BINDING("fastClose", FastClose);
WEFT_BINDING("fastAllReduce", FastAllReduce);
WEFT_BINDING("fastAnnounce", FastAnnounce);
WEFT_BINDING("fastAllReduceHalves", FastAllReduceHalves);

}  // namespace weft
