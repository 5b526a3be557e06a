// The VO's and the operator's operations on subscriber records (docs/lifecycle.md,
// "Transition table"): contract, re-key request, terminate, status and PUK
// retrieval, plus the commit of a verified first call or re-key. Every change
// goes through policy::Apply and is committed with its audit record in one
// batch; bad input or an illegal transition changes nothing.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "kms/ki2_vault.h"
#include "kms/registry.h"
#include "kms/token_keys.h"
#include "pkcs11/session.h"
#include "policy/lifecycle.h"
#include "policy/limits.h"
#include "sc-engine/engine/clone_alarm_log.h"
#include "storage/store.h"

namespace simkms::sc {

// Why a re-key is requested: its audit record says so ("reason"), with the actor
// (the operator's certificate, or the policy for the campaign).
struct RekeyRequest {
  std::string_view reason = "operator";  // "operator" (the API) or "max_age" (the re-key campaign)
  // The re-key campaign found this Ki_2 (its key id) too old: if the record holds
  // another one by the time of the request (a re-key completed meanwhile), the
  // request is refused (FailedPrecondition) and nothing changes. Unset: any.
  std::optional<std::string> only_if_ki2_key_id;
};

struct ContractRequest {
  std::string order_id;                        // the VO's order; a repeat with the same id returns the same record
  std::string iccid;                           // 19 or 20 digits with the Luhn digit, from the order
  std::optional<uint32_t> ver;                 // if the VO read it from the card: must match the chip's range
  std::optional<SecretBytes> activation_code;  // printed on the order document (misuse 1.3); ASCII digits
  // The subscriber's number (E.164, 1..15 digits), sent by the HLR role in INSERT_DATA
  // (docs/gsup.md §10); none: INSERT_DATA carries an empty MSISDN, as osmo-hlr's does.
  std::optional<std::string> msisdn = std::nullopt;
};

using kms::Actor;
using kms::Clock;

class SubscriberRegistry {
 public:
  SubscriberRegistry(p11::Session& session, const kms::ServiceKeys& keys, storage::Store& store, Actor actor, Clock clock,
                     policy::Limits limits = {})
      : session_(session), keys_(keys), store_(store), actor_(std::move(actor)), clock_(std::move(clock)),
        limits_(limits) {}

  // ICCID -> IMSI by the chip's range (1:1 by position); record CONTRACTED, hotline set.
  StatusOr<storage::SubscriberRecord> Contract(const ContractRequest& request);
  // PERSONALIZED -> REKEY_PENDING (policy::RekeyRequested), audited
  // "subscriber.rekey_requested" with the request's reason; the one path of the
  // operator's request and the re-key campaign's. A subscriber already
  // REKEY_PENDING (or in any other state) is FailedPrecondition, nothing changed;
  // the record must still be what was read (compare-and-set), so of two
  // concurrent requests one commits.
  StatusOr<storage::SubscriberRecord> RequestRekey(const std::string& imsi, const RekeyRequest& request = {});
  // Removes the record and its Ki_2 blob; the chip can be reset and contracted again.
  simkms::Status Terminate(const std::string& imsi);
  StatusOr<storage::SubscriberRecord> Get(const std::string& imsi) const;
  // The VERs (ascending) and the manufacturers' ranges (ascending ICCID) the
  // registry contracts against, as the custodians registered them.
  StatusOr<std::vector<storage::VerRecord>> ListVers() const;
  StatusOr<std::vector<storage::RangeRecord>> ListRanges() const;
  // The PUK in clear (ASCII digits) for customer care; audited as "subscriber.puk-read".
  StatusOr<SecretBytes> ReadPuk(const std::string& imsi);

  // Protocol state stored with a commit (docs/protocol.md §6).
  struct KeyCommit {
    std::optional<std::array<uint8_t, 8>> session_id;  // the committing session, for resending a lost COMMIT
    // (in, out) after the CONFIRM, of the key the exchange ran under (unset: as stored).
    std::optional<std::pair<uint64_t, uint64_t>> ota_counters;
  };

  // Commits a first call or re-key whose new key the SC verified: Ki_2 wrapped
  // under the storage KEK, the PUK (first call) sealed, state and hotline per
  // policy; the previous Ki_2 blob is kept (the chip may not have the new key
  // yet) and the one before it removed; one batch with its audit record.
  // Counters follow their key (docs/protocol.md §2): the key the exchange ran
  // under keeps its counters (Ki_1's, or the previous Ki_2's), and the new Ki_2
  // starts at zero.
  StatusOr<storage::SubscriberRecord> CommitNewKey(const std::string& imsi, CK_OBJECT_HANDLE ki2,
                                                   const std::string& puk, bool activation_code_accepted,
                                                   const KeyCommit& commit = {});
  // The same with Ki_2 already wrapped (the chip channel wraps it with its
  // Ki2Vault when it sends CHALLENGE, so a pending session holds no token object for it).
  StatusOr<storage::SubscriberRecord> CommitNewKey(const std::string& imsi, const kms::WrappedKi2& ki2,
                                                   const std::string& puk, bool activation_code_accepted,
                                                   const KeyCommit& commit = {});
  // A new Ki_2 (token session object) wrapped under the storage KEK, as CommitNewKey stores it.
  StatusOr<kms::WrappedKi2> WrapNewKey(CK_OBJECT_HANDLE ki2);

  // A wrong activation code (misuse 1.3): one try less, LOCKED at none. The
  // OTA counters are stored in the same batch. Returns the transition.
  StatusOr<policy::Transition> RecordEvent(const std::string& imsi, const policy::Event& event,
                                           std::pair<uint64_t, uint64_t> ota_counters);
  // A clone's packet (misuse 1.2): under key version `key_version` with CNTR
  // `counter`, for a PERSONALIZED or REKEY_PENDING subscriber. Audited as
  // CloneSuspected (state, keys and counters unchanged) unless it is a replay
  // of one already raised (nothing stored) or the rate limit holds it back
  // (the clone-alarm log stored, no audit record): DecideCloneAlarm.
  StatusOr<CloneAlarmAction> RecordCloneAlarm(const std::string& imsi, uint8_t key_version, uint64_t counter);

  // The activation code verifier H_ac, unsealed (empty if the contract has none).
  StatusOr<std::optional<SecretBytes>> ActivationVerifier(const storage::SubscriberRecord& record);

 private:
  storage::AuditEvent Event(std::string_view name, const storage::SubscriberRecord& r,
                            std::vector<std::pair<std::string, std::string>> details) const;
  // Stores `after` (the record must still be `before`) with the audit record
  // of `t`: its state and alarm, then `details`; one commit.
  Status CommitTransition(const storage::SubscriberRecord& before, storage::SubscriberRecord after,
                          const policy::Transition& t, std::vector<std::pair<std::string, std::string>> details);

  p11::Session& session_;
  const kms::ServiceKeys& keys_;
  storage::Store& store_;
  Actor actor_;
  Clock clock_;
  policy::Limits limits_;
};

// Opens a SubscriberRegistry for one request of the operator API: the store,
// the service keys, the clock and the limits are kmsd's; the token session and
// the actor (the client certificate's role and name) are the request's. So the
// listener holds this rather than the store. Thread-safe.
class RegistryService {
 public:
  RegistryService(const kms::ServiceKeys& keys, storage::Store& store, Clock clock, policy::Limits limits = {})
      : keys_(keys), store_(store), clock_(std::move(clock)), limits_(limits) {}

  SubscriberRegistry Open(p11::Session& session, Actor actor) const {
    return SubscriberRegistry(session, keys_, store_, std::move(actor), clock_, limits_);
  }

 private:
  const kms::ServiceKeys& keys_;
  storage::Store& store_;
  const Clock clock_;
  const policy::Limits limits_;
};

// The key id of a subscriber's Ki_2 blob: "ki2/<IMSI>/<generation>".
std::string Ki2KeyId(const std::string& imsi, uint64_t generation);

}  // namespace simkms::sc
