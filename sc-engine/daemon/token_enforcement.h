// kmsd's start-up check that its token acts on what its keys' attributes promise.
// `kmsctl token check` (kms/token_policy.h) reads each key's attributes; a module can
// keep an attribute and ignore it (NSS's softoken keeps CKA_UNWRAP_TEMPLATE and
// unwraps a Ki_2 blob as an extractable key anyway). So before it serves, kmsd runs
// the token probe's enforcement checks (kms::StartupEnforcementChecks) on throwaway
// session objects and refuses to start on a token that fails one, unless the
// operator waived that check by name in token.waived_checks: an evaluation module
// may run, but never by default and never silently (a warning at start, and the
// gauge simkms_token_enforces{check} at 0 with the alert SimkmsTokenCheckWaived).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "pkcs11/session.h"

namespace simkms::daemon {

struct EnforcementOutcome {
  std::string check;    // the probe check's id: "unwrap-template"
  bool enforced = false;
  std::string detail;   // why not, when not enforced
};

// Runs every start-up enforcement check on `session` (logged in, read-write).
// FailedPrecondition naming the check, what a token-PIN holder could then do and the
// way out, when one fails and `waived` does not name it; InvalidArgument when
// `waived` names something that is not such a check. Otherwise every outcome, the
// waived failures included.
StatusOr<std::vector<EnforcementOutcome>> CheckTokenEnforcement(p11::Session& session,
                                                               const std::vector<std::string>& waived,
                                                               const std::string& token_label);

}  // namespace simkms::daemon
