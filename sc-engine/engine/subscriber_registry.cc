#include "sc-engine/engine/subscriber_registry.h"

#include "kms/kcv.h"
#include "kms/secret_field.h"
#include "policy/lifecycle.h"
#include "sc-engine/protocol/key_schedule.h"
#include "storage/identifiers.h"
#include "storage/state_audit.h"

namespace simkms::sc {

using kms::OpenField;
using kms::SealField;
using kms::TokenKcv;

namespace {

std::string ActivationAad(const std::string& imsi) { return "ac|" + imsi; }
std::string PukAad(const std::string& imsi) { return "puk|" + imsi; }

policy::SubscriberView View(const storage::SubscriberRecord& r) {
  return {r.state, !r.activation_code_hash.empty(), r.activation_tries_left};
}

void ApplyTo(const policy::Transition& t, storage::SubscriberRecord& r) {
  r.state = t.next->state;
  r.activation_tries_left = t.next->activation_tries_left;
  r.hotline = t.hotline;
  if (t.activation_code == policy::ActivationCodeChange::kErase) r.activation_code_hash.clear();
}

uint64_t Generation(const std::string& key_id) {
  std::size_t slash = key_id.rfind('/');
  if (slash == std::string::npos) return 0;
  return std::strtoull(key_id.c_str() + slash + 1, nullptr, 10);
}

}  // namespace

std::string Ki2KeyId(const std::string& imsi, uint64_t generation) {
  return "ki2/" + imsi + "/" + std::to_string(generation);
}

storage::AuditEvent SubscriberRegistry::Event(std::string_view name, const storage::SubscriberRecord& r,
                                              std::vector<std::pair<std::string, std::string>> details) const {
  storage::AuditEvent e;
  e.time_ms = clock_();
  e.actor_role = actor_.role;
  e.actor_identity = actor_.identity;
  e.event = std::string(name);
  e.subject = r.imsi + "/" + r.iccid;
  e.details = std::move(details);
  // What the record is after this event (before it, for a termination, which deletes
  // it): `kmsctl audit verify --state` replays these and compares the live records.
  for (auto& field : storage::SubscriberStateDetails(r)) e.details.push_back(std::move(field));
  return e;
}

StatusOr<storage::SubscriberRecord> SubscriberRegistry::Contract(const ContractRequest& request) {
  if (request.order_id.empty() || request.order_id.size() > 64) {
    return InvalidArgumentError("order id must be 1..64 characters");
  }
  SIMKMS_ASSIGN_OR_RETURN(uint64_t body, storage::ParseIccidBody(request.iccid));
  auto range = store_.FindRangeByIccid(body);
  if (!range.ok()) {
    if (range.status().code() == StatusCode::kNotFound) {
      return NotFoundError("ICCID " + request.iccid + " is in no manufacturer's range");
    }
    return range.status();
  }
  if (request.ver && *request.ver != range->ver) {
    return InvalidArgumentError("ICCID " + request.iccid + " belongs to VER " + std::to_string(range->ver) +
                                ", the order says VER " + std::to_string(*request.ver));
  }
  const std::string imsi = storage::FormatImsi(range->imsi_first + (body - range->iccid_first));

  auto existing = store_.GetSubscriber(imsi);
  if (existing.ok()) {
    if (existing->order_id == request.order_id) {
      // The same order again; with another MSISDN it is not the same order.
      if (existing->msisdn != request.msisdn.value_or("")) {
        return AlreadyExistsError("ICCID " + request.iccid + " is already contracted under order " +
                                  existing->order_id + " with another MSISDN");
      }
      return *existing;
    }
    return AlreadyExistsError("ICCID " + request.iccid + " is already contracted (order " + existing->order_id + ")");
  }
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();
  if (!request.activation_code) {
    // Without a code, the first call is authenticated by Ki_1 alone, which anyone
    // holding the VER's K1 computes: such a contract is refused unless the VER's
    // policy was relaxed, explicitly and audited (docs/lifecycle.md).
    SIMKMS_ASSIGN_OR_RETURN(storage::VerRecord ver, store_.GetVer(range->ver));
    if (!ver.contracts_without_code) {
      return FailedPreconditionError("VER " + std::to_string(range->ver) +
                                     " requires an activation code for every new contract (without one, anyone "
                                     "holding the VER's K1 could take over the first call); give the code printed "
                                     "on the order document, or relax the VER's policy with kmsctl ver policy");
    }
  }

  std::optional<std::string_view> code;  // a view of the wiping buffer, never a copy
  if (request.activation_code) {
    const ByteView bytes = request.activation_code->reveal();
    code = std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  std::optional<std::string_view> msisdn;
  if (request.msisdn) msisdn = *request.msisdn;
  SIMKMS_ASSIGN_OR_RETURN(policy::Transition t,
                          policy::Apply(std::nullopt, policy::Contract{code, msisdn}, limits_));

  storage::SubscriberRecord r;
  r.imsi = imsi;
  r.iccid = request.iccid;
  r.ver = range->ver;
  r.order_id = request.order_id;
  r.msisdn = request.msisdn.value_or("");
  r.created_at = r.updated_at = clock_() / 1000;
  if (request.activation_code) {
    SIMKMS_ASSIGN_OR_RETURN(SecretBytes verifier, protocol::ActivationVerifier(imsi, *code));
    SIMKMS_ASSIGN_OR_RETURN(r.activation_code_hash,
                            SealField(session_, keys_.puk_encryption, ActivationAad(imsi), verifier));
  }
  ApplyTo(t, r);
  storage::WriteSet writes;
  writes.ExpectNoSubscriber(imsi);
  writes.PutSubscriber(r);
  SIMKMS_RETURN_IF_ERROR(store_.Commit(writes, Event(t.audit_event, r,
                                                     {{"order_id", r.order_id},
                                                      {"ver", std::to_string(r.ver)},
                                                      {"range", range->id},
                                                      {"activation_code", request.activation_code ? "yes" : "no"},
                                                      {"msisdn", r.msisdn.empty() ? "none" : r.msisdn}})));
  return r;
}

StatusOr<storage::SubscriberRecord> SubscriberRegistry::RequestRekey(const std::string& imsi,
                                                                     const RekeyRequest& request) {
  SIMKMS_ASSIGN_OR_RETURN(storage::SubscriberRecord r, store_.GetSubscriber(imsi));
  const storage::SubscriberRecord before = r;
  SIMKMS_ASSIGN_OR_RETURN(policy::Transition t, policy::Apply(View(r), policy::RekeyRequested{}, limits_));
  if (request.only_if_ki2_key_id && *request.only_if_ki2_key_id != r.ki2_key_id) {
    return FailedPreconditionError("subscriber " + imsi + ": no re-key request (" + std::string(request.reason) +
                                   "): its Ki_2 changed since it was found due");
  }
  ApplyTo(t, r);
  r.updated_at = clock_() / 1000;
  storage::WriteSet writes;
  writes.ExpectSubscriber(before);
  writes.PutSubscriber(r);
  SIMKMS_RETURN_IF_ERROR(store_.Commit(
      writes, Event(t.audit_event, r, {{"ki2_kcv", ToHex(r.ki2_kcv)}, {"reason", std::string(request.reason)}})));
  return r;
}

simkms::Status SubscriberRegistry::Terminate(const std::string& imsi) {
  SIMKMS_ASSIGN_OR_RETURN(storage::SubscriberRecord r, store_.GetSubscriber(imsi));
  SIMKMS_ASSIGN_OR_RETURN(policy::Transition t, policy::Apply(View(r), policy::Terminate{}, limits_));
  storage::WriteSet writes;
  writes.ExpectSubscriber(r);
  writes.DeleteSubscriber(imsi);
  if (!r.ki2_key_id.empty()) writes.DeleteWrappedKey(r.ki2_key_id);
  if (!r.previous_ki2_key_id.empty()) writes.DeleteWrappedKey(r.previous_ki2_key_id);
  return store_.Commit(writes, Event(t.audit_event, r,
                                     {{"order_id", r.order_id},
                                      {"ki2_kcv", ToHex(r.ki2_kcv)},
                                      {storage::kRecordDeletedDetail, "yes"}}));
}

StatusOr<storage::SubscriberRecord> SubscriberRegistry::Get(const std::string& imsi) const {
  return store_.GetSubscriber(imsi);
}

StatusOr<std::vector<storage::VerRecord>> SubscriberRegistry::ListVers() const { return store_.ListVers(); }

StatusOr<std::vector<storage::RangeRecord>> SubscriberRegistry::ListRanges() const { return store_.ListRanges(); }

StatusOr<SecretBytes> SubscriberRegistry::ReadPuk(const std::string& imsi) {
  SIMKMS_ASSIGN_OR_RETURN(storage::SubscriberRecord r, store_.GetSubscriber(imsi));
  if (r.puk_ciphertext.empty()) return NotFoundError("subscriber " + imsi + " has no PUK yet (not personalized)");
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes puk, OpenField(session_, keys_.puk_encryption, PukAad(imsi), r.puk_ciphertext));
  // Audited before it is handed out: a PUK read that is not on record must not happen.
  SIMKMS_RETURN_IF_ERROR(store_.Commit(storage::WriteSet(), Event("subscriber.puk-read", r, {})));
  return puk;
}

StatusOr<policy::Transition> SubscriberRegistry::RecordEvent(const std::string& imsi, const policy::Event& event,
                                                             std::pair<uint64_t, uint64_t> ota_counters) {
  SIMKMS_ASSIGN_OR_RETURN(storage::SubscriberRecord r, store_.GetSubscriber(imsi));
  const storage::SubscriberRecord before = r;
  SIMKMS_ASSIGN_OR_RETURN(policy::Transition t, policy::Apply(View(r), event, limits_));
  if (!t.audit_only) ApplyTo(t, r);
  r.ota_counter_in = ota_counters.first;
  r.ota_counter_out = ota_counters.second;
  std::vector<std::pair<std::string, std::string>> details;
  if (r.activation_tries_left > 0 || !r.activation_code_hash.empty()) {
    details.push_back({"activation_tries_left", std::to_string(r.activation_tries_left)});
  }
  SIMKMS_RETURN_IF_ERROR(CommitTransition(before, std::move(r), t, std::move(details)));
  return t;
}

Status SubscriberRegistry::CommitTransition(const storage::SubscriberRecord& before, storage::SubscriberRecord after,
                                            const policy::Transition& t,
                                            std::vector<std::pair<std::string, std::string>> details) {
  after.updated_at = clock_() / 1000;
  storage::WriteSet writes;
  writes.ExpectSubscriber(before);
  writes.PutSubscriber(after);
  std::vector<std::pair<std::string, std::string>> all{{"state", std::string(policy::StateName(after.state))}};
  if (t.security_alarm) all.push_back({"alarm", "yes"});
  all.insert(all.end(), details.begin(), details.end());
  return store_.Commit(writes, Event(t.audit_event, after, std::move(all)));
}

StatusOr<CloneAlarmAction> SubscriberRegistry::RecordCloneAlarm(const std::string& imsi, uint8_t key_version,
                                                                uint64_t counter) {
  SIMKMS_ASSIGN_OR_RETURN(storage::SubscriberRecord r, store_.GetSubscriber(imsi));
  SIMKMS_ASSIGN_OR_RETURN(policy::Transition t, policy::Apply(View(r), policy::CloneSuspected{}, limits_));
  const CloneAlarmDecision d = DecideCloneAlarm(r.ota.clone_alarms, key_version, counter, clock_() / 1000, limits_);
  switch (d.action) {
    case CloneAlarmAction::kDuplicate:
      return d.action;
    case CloneAlarmAction::kSuppress: {
      // Counted without an audit record (the next audited alarm carries the
      // count), through the counters' write path: nothing else of the record moves.
      storage::OtaBookkeeping next = r.ota;
      next.clone_alarms = d.next;
      const storage::Store::Counters counters{r.sqn, r.ota_counter_in, r.ota_counter_out};
      SIMKMS_RETURN_IF_ERROR(
          store_.AdvanceCounters({{imsi, counters, counters, storage::Store::OtaBookkeepingUpdate{r.ota, next}}}));
      return d.action;
    }
    case CloneAlarmAction::kAudit:
      break;
  }
  storage::SubscriberRecord after = r;
  after.ota.clone_alarms = d.next;
  SIMKMS_RETURN_IF_ERROR(CommitTransition(r, std::move(after), t,
                                          {{"key_version", std::to_string(key_version)},
                                           {"counter", std::to_string(counter)},
                                           {"suppressed_since_last", std::to_string(d.suppressed_since_last)}}));
  return d.action;
}

StatusOr<std::optional<SecretBytes>> SubscriberRegistry::ActivationVerifier(const storage::SubscriberRecord& r) {
  if (r.activation_code_hash.empty()) return std::optional<SecretBytes>();
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes v,
                          OpenField(session_, keys_.puk_encryption, ActivationAad(r.imsi), r.activation_code_hash));
  return std::optional<SecretBytes>(std::move(v));
}

StatusOr<kms::WrappedKi2> SubscriberRegistry::WrapNewKey(CK_OBJECT_HANDLE ki2) {
  SIMKMS_ASSIGN_OR_RETURN(Bytes kek_kcv, TokenKcv(session_, keys_.storage_kek, "storage KEK"));
  kms::Ki2Vault vault(keys_.storage_kek, kek_kcv);
  return vault.Wrap(session_, ki2);
}

StatusOr<storage::SubscriberRecord> SubscriberRegistry::CommitNewKey(const std::string& imsi, CK_OBJECT_HANDLE ki2,
                                                                     const std::string& puk,
                                                                     bool activation_code_accepted,
                                                                     const KeyCommit& commit) {
  SIMKMS_ASSIGN_OR_RETURN(kms::WrappedKi2 wrapped, WrapNewKey(ki2));
  return CommitNewKey(imsi, wrapped, puk, activation_code_accepted, commit);
}

StatusOr<storage::SubscriberRecord> SubscriberRegistry::CommitNewKey(const std::string& imsi,
                                                                     const kms::WrappedKi2& wrapped,
                                                                     const std::string& puk,
                                                                     bool activation_code_accepted,
                                                                     const KeyCommit& commit) {
  SIMKMS_ASSIGN_OR_RETURN(storage::SubscriberRecord r, store_.GetSubscriber(imsi));
  const storage::SubscriberRecord before = r;
  const bool first_call = r.state == storage::SubscriberState::kContracted;
  policy::Event event = first_call ? policy::Event(policy::FirstCallCompleted{true, activation_code_accepted})
                                   : policy::Event(policy::RekeyCompleted{true});
  SIMKMS_ASSIGN_OR_RETURN(policy::Transition t, policy::Apply(View(r), event, limits_));

  storage::WrappedKeyRecord blob;
  blob.key_id = Ki2KeyId(imsi, Generation(r.ki2_key_id) + 1);
  blob.blob = wrapped.blob;
  blob.kcv = wrapped.kcv;
  blob.kek_kcv = wrapped.kek_kcv;
  blob.mechanism = wrapped.mechanism;
  blob.created_at = clock_() / 1000;

  storage::WriteSet writes;
  writes.ExpectSubscriber(before);
  // Keep the current blob as the previous key; drop the one before it.
  if (!r.previous_ki2_key_id.empty()) writes.DeleteWrappedKey(r.previous_ki2_key_id);
  writes.PutWrappedKey(blob);
  ApplyTo(t, r);
  r.previous_ki2_key_id = r.ki2_key_id;
  r.ki2_key_id = blob.key_id;
  if (commit.session_id) r.last_commit_session.assign(commit.session_id->begin(), commit.session_id->end());
  // The counters follow their key: the key the exchange ran under (Ki_1 on a
  // first call, the Ki_2 now becoming the previous one on a re-key) keeps its
  // own, and the new Ki_2 starts at zero. That is sound with the chip, whose
  // counters serve all its keys: every answer of the SC carries at least the
  // CNTR of the packet it answers (docs/protocol.md §2), so the chip's next
  // packet is above anything the chip accepted, and the SC's answer to it too.
  storage::OtaCounters exchange_key{r.ota_counter_in, r.ota_counter_out};
  if (commit.ota_counters) exchange_key = {commit.ota_counters->first, commit.ota_counters->second};
  (first_call ? r.ota.ki1 : r.ota.previous_ki2) = exchange_key;
  r.ota_counter_in = 0;
  r.ota_counter_out = 0;
  r.ki2_kcv = wrapped.kcv;
  r.sqn = 0;  // a new key starts a new SQN space
  r.updated_at = clock_() / 1000;
  if (first_call) {
    if (puk.size() != 8) return InvalidArgumentError("PUK must be 8 digits");
    SIMKMS_ASSIGN_OR_RETURN(r.puk_ciphertext,
                            SealField(session_, keys_.puk_encryption, PukAad(imsi), SecretBytes::Copy(AsBytes(puk))));
  }
  writes.PutSubscriber(r);
  SIMKMS_RETURN_IF_ERROR(store_.Commit(writes, Event(t.audit_event, r,
                                                     {{"ki2_kcv", ToHex(wrapped.kcv)},
                                                      {"ki2_key_id", blob.key_id},
                                                      {"puk", first_call ? "negotiated" : "kept"}})));
  return r;
}

}  // namespace simkms::sc
