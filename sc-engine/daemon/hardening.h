// Process hardening for kmsd, applied at start before any secret is loaded:
// no core dumps (RLIMIT_CORE 0 and PR_SET_DUMPABLE 0, which also stops ptrace
// attachment by the same user), memory locked where permitted so key material
// in host memory is not swapped out, and an optional drop to an unprivileged
// user once every file and socket is open.
#pragma once

#include <string>

#include "base/status.h"

namespace simkms::daemon {

struct HardeningReport {
  bool core_dumps_disabled = false;
  bool memory_locked = false;
  std::string memory_lock_note;  // why mlockall was not possible, if it was not
};

// Fails only if core dumps cannot be disabled.
StatusOr<HardeningReport> HardenProcess(bool lock_memory);

// setgid/setgroups/setuid to `user`; refuses to continue as root afterwards.
Status DropPrivileges(const std::string& user);

}  // namespace simkms::daemon
