// Process placement for workers of `weft launch`. CPU binding (--cpu-bind): which CPUs this
// process may use, and pinning every thread of the process (V8's helpers and the comm thread
// included) to a set of them. And exitWithParent: a worker goes when its launcher goes. A worker
// pinned to its own core keeps its caches and is never moved next to another worker's thread
// when it wakes from a wait, which on a machine with one core per worker was measured to matter
// (docs/distributed.md, CPU binding).
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "bind/args.h"
#include "registry.h"

namespace weft {

namespace {

// cpuAffinity() -> number[]: the CPUs the calling thread may run on.
Napi::Value CpuAffinity(const Napi::CallbackInfo& info) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) throw Napi::Error::New(info.Env(), "cpuAffinity: sched_getaffinity failed");
  auto out = Napi::Array::New(info.Env());
  uint32_t n = 0;
  for (int c = 0; c < CPU_SETSIZE; c++) {
    if (CPU_ISSET(c, &set)) out.Set(n++, c);
  }
  return out;
}

// bindProcessToCpus(cpus: number[]) -> number: pins every thread of this process; returns how many.
Napi::Value BindProcessToCpus(const Napi::CallbackInfo& info) {
  const char* k = "bindProcessToCpus";
  if (!info[0].IsArray()) throwArg(info.Env(), k, "argument cpus must be an array of CPU numbers");
  auto cpus = info[0].As<Napi::Array>();
  cpu_set_t set;
  CPU_ZERO(&set);
  for (uint32_t i = 0; i < cpus.Length(); i++) {
    const int64_t c = cpus.Get(i).As<Napi::Number>().Int64Value();
    if (c < 0 || c >= CPU_SETSIZE) throwArg(info.Env(), k, "CPU number out of range");
    CPU_SET(static_cast<int>(c), &set);
  }
  if (CPU_COUNT(&set) == 0) throwArg(info.Env(), k, "no CPUs given");
  // Threads started later inherit the affinity of the thread that starts them; the ones that
  // already exist are listed in /proc/self/task.
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) throw Napi::Error::New(info.Env(), "bindProcessToCpus: cannot list /proc/self/task");
  int bound = 0;
  std::string failed;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    const pid_t tid = static_cast<pid_t>(std::atoi(e->d_name));
    if (sched_setaffinity(tid, sizeof set, &set) == 0) bound++;
    else failed = e->d_name;
  }
  closedir(dir);
  if (bound == 0) throw Napi::Error::New(info.Env(), "bindProcessToCpus: sched_setaffinity refused every thread (last: " + failed + ")");
  return Napi::Number::New(info.Env(), bound);
}

// exitWithParent(expectedParentPid) -> boolean: asks the kernel to send this process SIGTERM when
// its parent (the launcher) dies, so that a launcher killed with SIGKILL leaves no workers behind.
// False when the parent is already gone (it died before the request was made).
Napi::Value ExitWithParent(const Napi::CallbackInfo& info) {
  const pid_t expected = static_cast<pid_t>(intArg(info, 0));
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) throw Napi::Error::New(info.Env(), "exitWithParent: prctl(PR_SET_PDEATHSIG) failed");
  return Napi::Boolean::New(info.Env(), getppid() == expected);
}

}  // namespace

WEFT_BINDING("exitWithParent", ExitWithParent);
WEFT_BINDING("cpuAffinity", CpuAffinity);
WEFT_BINDING("bindProcessToCpus", BindProcessToCpus);

}  // namespace weft
