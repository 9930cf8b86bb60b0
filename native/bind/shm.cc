// Bindings of the shared-memory collectives (native/dist/shm-group.h) for src/dist/shm/:
//   shmOpen(name, worldSize, rank, chunkFloats, create, waitedMs) -> handle
//     (waitedMs: a Float64Array of worldSize + 2 on a SharedArrayBuffer, whose memory never
//     moves; every successful shmRun fills the first worldSize with the waits (Note [shm arrival
//     stamps]) and every shmRun the last two with its span, start and end in ms of the monotonic
//     clock (Note [native call spans] in src/distributed/group/flight-recorder.ts). Given once, so
//     that a call costs no typed-array unwrapping)
//   shmRun(handle, op, reduce, root, count, a, b, timeoutMs, spinUs) -> null | failure object
//   shmClose(handle), shmUnlink(name)
// The calls block the calling thread until the operation completes or fails (a deadline always
// applies); the failure object names what went wrong and the ranks, for the TypeScript side to
// turn into the usual typed errors.
#include <sys/mman.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "bind/args.h"
#include "bind/monotonic.h"
#include "dist/shm-group.h"
#include "registry.h"

namespace weft {

namespace {

using shm::Group;

struct Handle {
  std::unique_ptr<Group> group;
  /** Keeps the waits array alive while the handle is. */
  Napi::ObjectReference waitsRef;
  double* waits = nullptr;
};

Handle& handleArg(const Napi::CallbackInfo& info, const char* fn) {
  if (!info[0].IsExternal()) throwArg(info.Env(), fn, "argument handle must come from shmOpen");
  return *info[0].As<Napi::External<Handle>>().Data();
}

Napi::Value ShmOpen(const Napi::CallbackInfo& info) {
  const std::string name = strArg(info, 0);
  const int world = static_cast<int>(intArg(info, 1));
  const int rank = static_cast<int>(intArg(info, 2));
  const int64_t chunk = intArg(info, 3);
  if (chunk < 1) throwArg(info.Env(), "shmOpen", "chunkFloats must be positive");
  if (info.Length() < 6 || !info[5].IsTypedArray() || info[5].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[5].As<Napi::Float64Array>().ElementLength() != static_cast<size_t>(std::max(world, 0)) + 2) {
    throwArg(info.Env(), "shmOpen", "waitedMs must be a Float64Array of worldSize + 2 numbers");
  }
  auto* h = new Handle();
  h->waitsRef = Napi::Persistent(info[5].As<Napi::Object>());
  h->waits = info[5].As<Napi::Float64Array>().Data();
  try {
    h->group = std::make_unique<Group>(name, world, rank, static_cast<size_t>(chunk), boolArg(info, 4));
  } catch (const std::exception& e) {
    delete h;
    throw Napi::Error::New(info.Env(), e.what());
  }
  return Napi::External<Handle>::New(info.Env(), h, [](Napi::Env, Handle* p) { delete p; });
}

Napi::Value ShmClose(const Napi::CallbackInfo& info) {
  handleArg(info, "shmClose").group.reset();
  return info.Env().Undefined();
}

Napi::Value ShmUnlink(const Napi::CallbackInfo& info) {
  shm_unlink(strArg(info, 0).c_str());
  return info.Env().Undefined();
}

Napi::Array intArray(Napi::Env env, const std::vector<int>& xs) {
  auto a = Napi::Array::New(env, xs.size());
  for (size_t i = 0; i < xs.size(); i++) a.Set(static_cast<uint32_t>(i), xs[i]);
  return a;
}

Napi::Value ShmRun(const Napi::CallbackInfo& info) {
  const char* k = "shmRun";
  Handle& h = handleArg(info, k);
  if (!h.group) throwArg(info.Env(), k, "the group was closed");
  shm::Descriptor d;
  d.op = static_cast<uint32_t>(intArg(info, 1));
  d.reduce = static_cast<uint32_t>(intArg(info, 2));
  d.root = static_cast<int32_t>(intArg(info, 3));
  const int64_t count = intArg(info, 4);
  if (count < 0) throwArg(info.Env(), k, "count must not be negative");
  d.count = static_cast<uint64_t>(count);
  const Span<float> a = f32OrNull(info, 5, k, "a");
  const Span<float> b = f32OrNull(info, 6, k, "b");
  const size_t n = d.count, w = static_cast<size_t>(h.group->worldSize());
  const auto op = static_cast<shm::OpCode>(d.op);
  switch (op) {
    case shm::OpCode::AllReduce:
    case shm::OpCode::Broadcast:
      requireLength(info.Env(), a, n, k, "buffer");
      break;
    case shm::OpCode::ReduceScatter:
      requireLength(info.Env(), a, n * w, k, "input");
      requireLength(info.Env(), b, n, k, "output");
      break;
    case shm::OpCode::AllGather:
      requireLength(info.Env(), a, n, k, "input");
      requireLength(info.Env(), b, n * w, k, "output");
      break;
    case shm::OpCode::Barrier:
      break;
    default:
      throwArg(info.Env(), k, "unknown operation code");
  }
  if (op == shm::OpCode::Broadcast && (d.root < 0 || static_cast<size_t>(d.root) >= w)) throwArg(info.Env(), k, "root out of range");
  const int64_t timeoutMs = intArg(info, 7), spinUs = intArg(info, 8);
  const double startMs = monotonicMs();
  const shm::Outcome out = h.group->run(d, a.data, b.data, timeoutMs, spinUs, h.waits);
  h.waits[w] = startMs;
  h.waits[w + 1] = monotonicMs();
  Napi::Env env = info.Env();
  if (out.status == shm::Status::Ok) return env.Null();
  auto r = Napi::Object::New(env);
  const char* status = out.status == shm::Status::Timeout ? "timeout"
                       : out.status == shm::Status::PeerLost ? "peerLost"
                       : out.status == shm::Status::Mismatch ? "mismatch"
                                                             : "failed";
  r.Set("status", status);
  r.Set("ranks", intArray(env, out.ranks));
  auto descs = Napi::Array::New(env, out.descriptors.size());
  for (size_t i = 0; i < out.descriptors.size(); i++) {
    const shm::Descriptor& x = out.descriptors[i];
    auto o = Napi::Object::New(env);
    o.Set("op", x.op);
    o.Set("reduce", x.reduce);
    o.Set("root", x.root);
    o.Set("count", static_cast<double>(x.count));
    descs.Set(static_cast<uint32_t>(i), o);
  }
  r.Set("descriptors", descs);
  return r;
}

}  // namespace

WEFT_BINDING("shmOpen", ShmOpen);
WEFT_BINDING("shmClose", ShmClose);
WEFT_BINDING("shmUnlink", ShmUnlink);
WEFT_BINDING("shmRun", ShmRun);

}  // namespace weft
