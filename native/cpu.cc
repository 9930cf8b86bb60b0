#include "cpu.h"

#include <cstdlib>
#include <cstring>

namespace weft {

namespace {

Isa detect() {
  __builtin_cpu_init();
  // GCC's checks include the OS's consent (XCR0) to save the wider registers.
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2Fma;
  return Isa::Scalar;
}

Isa initialActive() {
  Isa best = detectedIsa();
  // WEFT_ISA caps the variant for a whole process (benchmarks of one path, bug reports).
  const char* forced = std::getenv("WEFT_ISA");
  if (forced == nullptr) return best;
  Isa want = best;
  if (std::strcmp(forced, "scalar") == 0) want = Isa::Scalar;
  if (std::strcmp(forced, "avx2fma") == 0) want = Isa::Avx2Fma;
  if (std::strcmp(forced, "avx512") == 0) want = Isa::Avx512;
  return static_cast<int>(want) <= static_cast<int>(best) ? want : best;
}

Isa& active() {
  static Isa value = initialActive();
  return value;
}

}  // namespace

Isa detectedIsa() {
  static const Isa value = detect();
  return value;
}

Isa activeIsa() { return active(); }

bool setActiveIsa(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(detectedIsa())) return false;
  active() = isa;
  return true;
}

const char* isaName(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2Fma: return "avx2fma";
    default: return "scalar";
  }
}

}  // namespace weft
