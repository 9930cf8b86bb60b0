// The addon's entry point: exports every registered binding, plus the ISA controls, and tunes
// glibc malloc so that tensors' buffers are reused instead of page-faulted in on every step.
#include <malloc.h>
#include <napi.h>

#include <string>
#include <utility>
#include <vector>

#include "cpu.h"
#include "registry.h"

namespace weft {

namespace {

std::vector<std::pair<const char*, Binding>>& registry() {
  static std::vector<std::pair<const char*, Binding>> entries;
  return entries;
}

Napi::Value ActiveIsaName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), isaName(activeIsa()));
}

Napi::Value DetectedIsa(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), isaName(detectedIsa()));
}

Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  weft::Isa want = weft::Isa::Scalar;
  if (name == "avx2fma") want = weft::Isa::Avx2Fma;
  else if (name == "avx512") want = weft::Isa::Avx512;
  else if (name != "scalar") throw Napi::TypeError::New(info.Env(), "setIsa: expected scalar, avx2fma or avx512, got " + name);
  return Napi::Boolean::New(info.Env(), setActiveIsa(want));
}

}  // namespace

Registration::Registration(const char* name, Binding fn) { registry().emplace_back(name, fn); }

void forEachBinding(void (*visit)(const char*, Binding, void*), void* ctx) {
  for (auto& [name, fn] : registry()) visit(name, fn, ctx);
}

}  // namespace weft

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Note [malloc tuning]: V8 allocates ArrayBuffer storage with calloc. With glibc's defaults,
  // buffers above 128 KiB are mmap'd and unmapped on free, so every training step page-faults its
  // activations back in. Keep freed memory in the heap (as PyTorch users do with jemalloc).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  exports.Set("isa", Napi::Function::New(env, weft::ActiveIsaName, "isa"));
  exports.Set("detectedIsa", Napi::Function::New(env, weft::DetectedIsa, "detectedIsa"));
  exports.Set("setIsa", Napi::Function::New(env, weft::SetIsa, "setIsa"));
  struct Ctx { Napi::Env env; Napi::Object exports; } ctx{env, exports};
  weft::forEachBinding(
      [](const char* name, weft::Binding fn, void* p) {
        auto* c = static_cast<Ctx*>(p);
        c->exports.Set(name, Napi::Function::New(c->env, fn, name));
      },
      &ctx);
  return exports;
}

NODE_API_MODULE(weft, Init)
