// Which instruction-set variant of the kernels runs. Detected once from the CPU; tests may force a
// lower one (setIsa) to check every variant the machine supports against the reference backend.
#pragma once

namespace weft {

enum class Isa { Scalar = 0, Avx2Fma = 1, Avx512 = 2 };

// The best variant this CPU and OS support.
Isa detectedIsa();
// The variant kernels dispatch to now (detectedIsa() unless forced lower).
Isa activeIsa();
// Returns false, changing nothing, when the CPU does not support `isa`.
bool setActiveIsa(Isa isa);
const char* isaName(Isa isa);

}  // namespace weft
