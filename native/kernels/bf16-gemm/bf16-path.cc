// Which bf16 GEMM path runs (Note [bf16 gemm paths] in bf16-gemm.h): detected once from CPUID and
// the OS, capped by WEFT_BF16 for a whole process, lowered by tests to check each path.
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "bf16-gemm.h"

namespace weft {

namespace {

// From the Linux uapi headers (asm/prctl.h, the xstate numbering), not always installed.
constexpr int kArchReqXcompPerm = 0x1023;
constexpr int kXfeatureXtiledata = 18;

bool cpuHasAvx512Bf16() {
  // VDPBF16PS on zmm registers also needs AVX-512 state enabled by the OS, which GCC's check covers.
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") || !__builtin_cpu_supports("avx512vl")) return false;
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return false;
  return (eax >> 5) & 1u;  // CPUID.(EAX=7, ECX=1):EAX[5] = AVX512_BF16
}

bool cpuHasAmxBf16() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  const bool amxBf16 = (edx >> 22) & 1u, amxTile = (edx >> 24) & 1u;
  if (!amxBf16 || !amxTile) return false;
  // Linux keeps the 8 KiB of tile data out of a process's saved state until it asks; without
  // this a tile instruction faults. The permission is per process, so asking once covers every
  // thread.
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) return false;
  // XCR0 bits 17 and 18: the OS saves tile configuration and tile data.
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (lo & (3u << 17)) == (3u << 17);
}

Bf16Path detect() {
  if (cpuHasAmxBf16()) return Bf16Path::Amx;
  if (cpuHasAvx512Bf16()) return Bf16Path::Avx512Bf16;
  return Bf16Path::Emulated;
}

Bf16Path initialActive() {
  const char* forced = std::getenv("WEFT_BF16");
  if (forced == nullptr) return detectedBf16Path();
  Bf16Path want = detectedBf16Path();
  if (std::strcmp(forced, "emulated") == 0) want = Bf16Path::Emulated;
  if (std::strcmp(forced, "avx512bf16") == 0) want = Bf16Path::Avx512Bf16;
  if (std::strcmp(forced, "amx") == 0) want = Bf16Path::Amx;
  return bf16PathSupported(want) ? want : detectedBf16Path();
}

Bf16Path& active() {
  static Bf16Path value = initialActive();
  return value;
}

}  // namespace

Bf16Path detectedBf16Path() {
  static const Bf16Path value = detect();
  return value;
}

Bf16Path activeBf16Path() { return active(); }

// Tests lower amx to avx512bf16 to check both kernels: allowed when that CPUID bit is set too
// (it is on every CPU with AMX so far).
bool bf16PathSupported(Bf16Path path) {
  static const bool avx512bf16 = cpuHasAvx512Bf16();
  if (path == Bf16Path::Avx512Bf16) return avx512bf16;
  if (path == Bf16Path::Amx) return detectedBf16Path() == Bf16Path::Amx;
  return true;
}

bool setActiveBf16Path(Bf16Path path) {
  if (!bf16PathSupported(path)) return false;
  active() = path;
  return true;
}

const char* bf16PathName(Bf16Path path) {
  switch (path) {
    case Bf16Path::Amx: return "amx";
    case Bf16Path::Avx512Bf16: return "avx512bf16";
    case Bf16Path::DotLayout: return "dot-layout";
    case Bf16Path::TileLayout: return "tile-layout";
    default: return "emulated";
  }
}

}  // namespace weft
