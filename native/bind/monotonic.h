// The clock of a collective's span (Note [native call spans] in src/distributed/group/flight-recorder.ts):
// CLOCK_MONOTONIC in ms, the clock behind Node's process.hrtime and performance.now.
#pragma once

#include <time.h>

namespace weft {

inline double monotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

}  // namespace weft
