#include "sc-engine/engine/subscriber_registry.h"

#include "kms/kcv.h"
#include "kms/secret_field.h"
#include "policy/lifecycle.h"
#include "sc-engine/protocol/key_schedule.h"
#include "storage/identifiers.h"

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
    if (existing->order_id == request.order_id) return *existing;  // the same order again
    return AlreadyExistsError("ICCID " + request.iccid + " is already contracted (order " + existing->order_id + ")");
  }
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();

  std::optional<std::string_view> code;
  if (request.activation_code) code = *request.activation_code;
  SIMKMS_ASSIGN_OR_RETURN(policy::Transition t, policy::Apply(std::nullopt, policy::Contract{code}, limits_));

  storage::SubscriberRecord r;
  r.imsi = imsi;
  r.iccid = request.iccid;
  r.ver = range->ver;
  r.order_id = request.order_id;
  r.created_at = r.updated_at = clock_() / 1000;
  if (request.activation_code) {
    SIMKMS_ASSIGN_OR_RETURN(SecretBytes verifier, protocol::ActivationVerifier(imsi, *request.activation_code));
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
                                                      {"activation_code", request.activation_code ? "yes" : "no"}})));
  return r;
}

StatusOr<storage::SubscriberRecord> SubscriberRegistry::RequestRekey(const std::string& imsi) {
  SIMKMS_ASSIGN_OR_RETURN(storage::SubscriberRecord r, store_.GetSubscriber(imsi));
  const storage::SubscriberRecord before = r;
  SIMKMS_ASSIGN_OR_RETURN(policy::Transition t, policy::Apply(View(r), policy::RekeyRequested{}, limits_));
  ApplyTo(t, r);
  r.updated_at = clock_() / 1000;
  storage::WriteSet writes;
  writes.ExpectSubscriber(before);
  writes.PutSubscriber(r);
  SIMKMS_RETURN_IF_ERROR(store_.Commit(writes, Event(t.audit_event, r, {{"ki2_kcv", ToHex(r.ki2_kcv)}})));
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
  return store_.Commit(writes, Event(t.audit_event, r, {{"order_id", r.order_id}, {"ki2_kcv", ToHex(r.ki2_kcv)}}));
}

StatusOr<storage::SubscriberRecord> SubscriberRegistry::Get(const std::string& imsi) const {
  return store_.GetSubscriber(imsi);
}

StatusOr<std::string> SubscriberRegistry::ReadPuk(const std::string& imsi) {
  SIMKMS_ASSIGN_OR_RETURN(storage::SubscriberRecord r, store_.GetSubscriber(imsi));
  if (r.puk_ciphertext.empty()) return NotFoundError("subscriber " + imsi + " has no PUK yet (not personalized)");
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes puk, OpenField(session_, keys_.puk_encryption, PukAad(imsi), r.puk_ciphertext));
  // Audited before it is handed out: a PUK read that is not on record must not happen.
  SIMKMS_RETURN_IF_ERROR(store_.Commit(storage::WriteSet(), Event("subscriber.puk-read", r, {})));
  return std::string(puk.reveal().begin(), puk.reveal().end());
}

StatusOr<policy::Transition> SubscriberRegistry::RecordEvent(const std::string& imsi, const policy::Event& event,
                                                             std::pair<uint64_t, uint64_t> ota_counters) {
  SIMKMS_ASSIGN_OR_RETURN(storage::SubscriberRecord r, store_.GetSubscriber(imsi));
  const storage::SubscriberRecord before = r;
  SIMKMS_ASSIGN_OR_RETURN(policy::Transition t, policy::Apply(View(r), event, limits_));
  if (!t.audit_only) ApplyTo(t, r);
  r.ota_counter_in = ota_counters.first;
  r.ota_counter_out = ota_counters.second;
  r.updated_at = clock_() / 1000;
  storage::WriteSet writes;
  writes.ExpectSubscriber(before);
  writes.PutSubscriber(r);
  std::vector<std::pair<std::string, std::string>> details{{"state", std::string(policy::StateName(r.state))}};
  if (t.security_alarm) details.push_back({"alarm", "yes"});
  if (r.activation_tries_left > 0 || !r.activation_code_hash.empty()) {
    details.push_back({"activation_tries_left", std::to_string(r.activation_tries_left)});
  }
  SIMKMS_RETURN_IF_ERROR(store_.Commit(writes, Event(t.audit_event, r, std::move(details))));
  return t;
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
  if (commit.ota_counters) {
    r.ota_counter_in = commit.ota_counters->first;
    r.ota_counter_out = commit.ota_counters->second;
  }
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
