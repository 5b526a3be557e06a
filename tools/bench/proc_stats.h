// Another process's CPU time and memory from /proc/<pid> (Linux), for reporting
// what the server under load costs.
#pragma once

#include <sys/types.h>

#include "base/status.h"

namespace simkms::bench {

struct ProcSample {
  double cpu_seconds = 0;  // user + system, all threads
  double rss_mb = 0;       // VmRSS
  double hwm_mb = 0;       // VmHWM: peak RSS since start
};

StatusOr<ProcSample> SampleProcess(pid_t pid);

// This process's own CPU time so far (user + system, all threads), for the
// load generator's cost beside the server's.
double SelfCpuSeconds();

}  // namespace simkms::bench
