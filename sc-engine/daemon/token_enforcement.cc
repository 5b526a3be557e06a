#include "sc-engine/daemon/token_enforcement.h"

#include <algorithm>
#include <string_view>

#include "kms/token_probe.h"

namespace simkms::daemon {
namespace {

// What a holder of the token PIN (kmsd's account) gains on a token that fails the check.
std::string WhatItGives(std::string_view check) {
  if (check == "unwrap-template") {
    return "a holder of the token PIN could unwrap any Ki_2 blob of the database as an extractable key and "
           "read it";
  }
  return "a holder of the token PIN could switch on a function of a persistent key (decrypt, wrap) and "
         "use the key beyond its job";
}

}  // namespace

StatusOr<std::vector<EnforcementOutcome>> CheckTokenEnforcement(p11::Session& session,
                                                               const std::vector<std::string>& waived,
                                                               const std::string& token_label) {
  const auto checks = kms::StartupEnforcementChecks();
  std::string known;
  for (std::string_view id : checks) known += (known.empty() ? "" : ", ") + std::string(id);
  for (const std::string& w : waived) {
    if (std::find(checks.begin(), checks.end(), w) == checks.end()) {
      return InvalidArgumentError("token.waived_checks names '" + w + "', which is not one of kmsd's start-up checks (" +
                                  known + ")");
    }
  }
  std::vector<EnforcementOutcome> outcomes;
  for (std::string_view id : checks) {
    SIMKMS_ASSIGN_OR_RETURN(kms::ProbeResult r, kms::ProbeOne(session, id));
    outcomes.push_back({r.id, r.ok(), r.detail});
    if (r.ok() || std::find(waived.begin(), waived.end(), r.id) != waived.end()) continue;
    return FailedPreconditionError("token '" + token_label + "' fails the start-up check " + r.id + " (" + r.what +
                                   "): " + r.detail + ". On it " + WhatItGives(r.id) +
                                   ", so kmsd refuses to start. `kmsctl token probe` shows the whole table; "
                                   "token.waived_checks [\"" + r.id + "\"] accepts it on an evaluation module only "
                                   "(docs/hsm-compatibility.md)");
  }
  return outcomes;
}

}  // namespace simkms::daemon
