#include "sc-engine/daemon/hardening.h"

#include <grp.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace simkms::daemon {

StatusOr<HardeningReport> HardenProcess(bool lock_memory) {
  HardeningReport report;
  rlimit no_core{0, 0};
  if (setrlimit(RLIMIT_CORE, &no_core) != 0) {
    return InternalError(std::string("setrlimit(RLIMIT_CORE, 0): ") + std::strerror(errno));
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return InternalError(std::string("prctl(PR_SET_DUMPABLE, 0): ") + std::strerror(errno));
  }
  report.core_dumps_disabled = true;
  if (lock_memory) {
    if (mlockall(MCL_CURRENT | MCL_FUTURE) == 0) {
      report.memory_locked = true;
    } else {
      report.memory_lock_note = std::string("mlockall: ") + std::strerror(errno) +
                                " (raise RLIMIT_MEMLOCK or grant CAP_IPC_LOCK)";
    }
  }
  return report;
}

Status DropPrivileges(const std::string& user) {
  if (user.empty()) return OkStatus();
  errno = 0;
  passwd* pw = getpwnam(user.c_str());
  if (pw == nullptr) return NotFoundError("run_as user '" + user + "' does not exist");
  if (setgroups(0, nullptr) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
    return PermissionDeniedError("cannot drop privileges to '" + user + "': " + std::strerror(errno));
  }
  if (pw->pw_uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
    return InternalError("privileges could be regained after dropping to '" + user + "'");
  }
  // PR_SET_DUMPABLE is reset by setuid: set it again.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  return OkStatus();
}

}  // namespace simkms::daemon
