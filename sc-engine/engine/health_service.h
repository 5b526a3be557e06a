// kmsd's health as the metrics listener reports it (docs/operations.md): the
// token, the database and the audit checkpoint on every /healthz, the store's
// write load on every /metrics scrape, and the audit record of the alarm for a
// stored record that fails its MAC (the database was written without the
// token). The listener serializes; the token and the store are asked here.
//
// Threading: thread-safe; Check uses the session it is given.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"
#include "kms/registry.h"
#include "pkcs11/session.h"
#include "storage/store.h"

namespace simkms::sc {

struct HealthReport {
  // Empty when healthy; otherwise each problem followed by "; " ("token
  // unreachable; database unreadable; "), fit to be shown as they are: no
  // label of a token object (a PIN holder chose those) and no secret.
  std::string problems;
  // The token's objects against the token policy (kms/token_policy.h), when the
  // check could run.
  std::optional<uint64_t> token_objects;
  std::optional<uint64_t> token_policy_violations;
  // Each check on its own, for the gauges simkms_health_check_ok{check} (an alert
  // on the token or the audit trail needs the one that failed, and needs it
  // without traffic: kmsd also runs this check on a timer).
  bool token_answers = false;
  bool database_readable = false;
  bool checkpoint_writable = false;
  bool token_policy_holds = false;
  // The audit trail's newest record and the token's current audit epoch, when
  // they could be read: counters, not secrets (kmsctl audit show prints both).
  std::optional<uint64_t> audit_seq;
  std::optional<uint64_t> audit_epoch;
};

// The store's write load since it was opened, for /metrics.
struct StoreLoad {
  storage::Store::GroupCommitStats writes;
  storage::Store::PurgeStats purges;
};

class HealthService {
 public:
  // `audit_mac`: the store's, asked for its current epoch.
  HealthService(storage::Store& store, storage::AuditMac& audit_mac, kms::Clock clock = kms::SystemClockMs)
      : store_(store), audit_mac_(audit_mac), clock_(std::move(clock)) {}

  // The token answers (a random draw), the audit head reads, the last checkpoint
  // write held, and the token holds what the token policy says; with the audit
  // head's seq and the current epoch.
  HealthReport Check(p11::Session& session) const;
  StoreLoad Load() const;

  // Audits the alarm for a record of kind `kind` ("subscribers", ...) of
  // `subject` (an IMSI) that failed its MAC check as "record.not-authentic"
  // (actor role "sc", `actor` the listener and peer that met it, the store's
  // `problem`). One commit of the audit record alone; the rate limit is the
  // caller's. A store error as the store gives it, and then nothing is recorded.
  Status RecordNotAuthentic(const std::string& subject, const std::string& actor, const std::string& kind,
                            const std::string& problem);

 private:
  storage::Store& store_;
  storage::AuditMac& audit_mac_;
  const kms::Clock clock_;
};

}  // namespace simkms::sc
