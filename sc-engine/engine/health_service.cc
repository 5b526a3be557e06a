#include "sc-engine/engine/health_service.h"

#include "kms/token_policy.h"

namespace simkms::sc {

HealthReport HealthService::Check(p11::Session& session) const {
  HealthReport report;
  uint8_t probe[8];
  report.token_answers = session.GenerateRandom(probe, sizeof probe).ok();
  if (!report.token_answers) report.problems += "token unreachable; ";
  auto head = store_.AuditHead();
  report.database_readable = head.ok();
  if (head.ok()) {
    report.audit_seq = head->seq;
  } else {
    report.problems += "database unreadable; ";
  }
  report.checkpoint_writable = store_.CheckpointHealth().ok();
  if (!report.checkpoint_writable) report.problems += "audit checkpoint not writable; ";
  if (auto epoch = audit_mac_.CurrentEpoch(); epoch.ok()) report.audit_epoch = *epoch;
  // Only counts leave: labels are whatever a PIN holder chose (kmsctl token check names them).
  auto check = kms::CheckTokenObjects(session);
  if (!check.ok()) {
    report.problems += "token policy check failed; ";
    return report;
  }
  report.token_objects = check->objects.size();
  report.token_policy_violations = check->violations();
  report.token_policy_holds = check->ok();
  if (!check->ok()) {
    report.problems += "token objects differ from the token policy (" + std::to_string(check->violations()) +
                       " violations, see kmsctl token check); ";
  }
  return report;
}

StoreLoad HealthService::Load() const { return {store_.GetGroupCommitStats(), store_.GetPurgeStats()}; }

Status HealthService::RecordNotAuthentic(const std::string& subject, const std::string& actor, const std::string& kind,
                                         const std::string& problem) {
  return store_.Commit(storage::WriteSet(), {.time_ms = clock_(),
                                             .actor_role = "sc",
                                             .actor_identity = actor,
                                             .event = "record.not-authentic",
                                             .subject = subject,
                                             .details = {{"kind", kind}, {"alarm", "yes"}, {"problem", problem}}});
}

}  // namespace simkms::sc
