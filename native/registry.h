// Every N-API function of the addon registers itself here with WEFT_BINDING, from the bind/*.cc
// file of its kernel group, so that adding a kernel touches no shared file. addon.cc exports them
// all under their names; src/backend/native/ checks at load time that the table is complete.
#pragma once
#include <napi.h>

namespace weft {

using Binding = Napi::Value (*)(const Napi::CallbackInfo&);

struct Registration {
  Registration(const char* name, Binding fn);
};

// Visits every registered binding (used once, by the module initialiser).
void forEachBinding(void (*visit)(const char* name, Binding fn, void* ctx), void* ctx);

}  // namespace weft

#define WEFT_BINDING_CONCAT2(a, b) a##b
#define WEFT_BINDING_CONCAT(a, b) WEFT_BINDING_CONCAT2(a, b)
#define WEFT_BINDING(name, fn) \
  static ::weft::Registration WEFT_BINDING_CONCAT(weft_registration_, __LINE__)(name, fn)
