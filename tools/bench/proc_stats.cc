#include "tools/bench/proc_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace simkms::bench {

StatusOr<ProcSample> SampleProcess(pid_t pid) {
  ProcSample s;
  const std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream stat(dir + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return NotFoundError("no process " + std::to_string(pid));
  // Fields after the parenthesised command name (which may contain spaces):
  // state(3) ... utime(14) stime(15).
  auto close = line.rfind(')');
  if (close == std::string::npos) return DataLossError("unexpected " + dir + "/stat");
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  s.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream status(dir + "/status");
  while (std::getline(status, line)) {
    auto kb = [&](const char* key) { return std::stod(line.substr(std::string(key).size())) / 1024.0; };
    if (line.rfind("VmRSS:", 0) == 0) s.rss_mb = kb("VmRSS:");
    if (line.rfind("VmHWM:", 0) == 0) s.hwm_mb = kb("VmHWM:");
  }
  return s;
}

double SelfCpuSeconds() {
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return secs(self.ru_utime) + secs(self.ru_stime);
}

}  // namespace simkms::bench
