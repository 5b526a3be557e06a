#include "kms/registry.h"

#include <chrono>

#include "kms/kcv.h"
#include "kms/secret_field.h"
#include "kms/token_probe.h"
#include "policy/numbering.h"
#include "policy/rekey_policy.h"
#include "softcrypto/dh_group.h"
#include "storage/identifiers.h"

namespace simkms::kms {

int64_t SystemClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Profile FromStorage(storage::KeyProfile p) {
  return p == storage::KeyProfile::kLegacy ? Profile::kLegacy : Profile::kModern;
}
storage::KeyProfile ToStorage(Profile p) {
  return p == Profile::kLegacy ? storage::KeyProfile::kLegacy : storage::KeyProfile::kModern;
}

namespace {

StatusOr<storage::DhGroup> ParseGroup(const std::string& name) {
  if (name == "ffdhe2048") return storage::DhGroup::kFfdhe2048;
  if (name == "ffdhe3072") return storage::DhGroup::kFfdhe3072;
  if (name == "p256") return storage::DhGroup::kP256;
  if (name == "custom") return storage::DhGroup::kCustom;
  return InvalidArgumentError("unknown DH group '" + name + "' (ffdhe2048, ffdhe3072, p256, custom)");
}

std::string OpAssociatedData(uint32_t ver) { return "op|" + std::to_string(ver); }

Status NeedCeremonyToken(const CeremonyToken* ceremony, const std::string& what) {
  if (ceremony != nullptr) return OkStatus();
  return FailedPreconditionError(what + " needs MK, which is on the ceremony token: run kmsctl with --ceremony-token");
}

}  // namespace

storage::AuditEvent Registry::Event(std::string name, std::string subject,
                                    std::vector<std::pair<std::string, std::string>> details) const {
  storage::AuditEvent e;
  e.time_ms = clock_();
  e.actor_role = actor_.role;
  e.actor_identity = actor_.identity;
  e.event = std::move(name);
  e.subject = std::move(subject);
  e.details = std::move(details);
  return e;
}

StatusOr<storage::VerRecord> Registry::AddVer(NewVer request) {
  const std::string subject = "VER " + std::to_string(request.ver);
  if (request.ver == 0) return InvalidArgumentError("VER must be a positive number");
  auto existing = store_.GetVer(request.ver);
  if (existing.ok()) return AlreadyExistsError(subject + " already exists");
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();

  SIMKMS_ASSIGN_OR_RETURN(storage::DhGroup group, ParseGroup(request.dh_group));
  if (group == storage::DhGroup::kCustom) {
    Status valid = ValidateCustomGroup(request.custom_p, request.custom_g);
    if (!valid.ok()) return valid.WithContext(subject + ": custom DH group refused");
  } else if (!request.custom_p.empty() || !request.custom_g.empty()) {
    return InvalidArgumentError(subject + ": p and g are only given with --dh-group custom");
  }
  if (request.amf.size() != 2) return InvalidArgumentError(subject + ": AMF must be 2 bytes (4 hex digits)");
  {
    Status on_token = CheckProfileOnToken(session_, request.profile);
    if (!on_token.ok()) return on_token.WithContext(subject);
  }
  if (request.op.empty()) {
    request.op = SecretBytes(16);
    SIMKMS_RETURN_IF_ERROR(session_.GenerateRandom(request.op.mutable_data(), 16));
  }
  if (request.op.size() != 16) return InvalidArgumentError(subject + ": OP must be 16 bytes (32 hex digits)");

  storage::VerRecord record;
  record.ver = request.ver;
  record.profile = ToStorage(request.profile);
  record.dh_group = group;
  record.custom_p = request.custom_p;
  record.custom_g = request.custom_g;
  record.amf = request.amf;
  record.description = request.description;
  record.created_at = clock_() / 1000;
  SIMKMS_ASSIGN_OR_RETURN(record.op_ciphertext,
                          SealField(session_, keys_.op_encryption, OpAssociatedData(request.ver), request.op));
  // A K1 this call creates is destroyed on every failure below, kept only once
  // its VER record is committed.
  p11::ScopedObject new_k1;
  if (ceremony_ != nullptr) {
    bool created = false;
    SIMKMS_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE k1, ceremony_->EnsureK1(request.ver, request.profile, &created));
    if (created) new_k1 = p11::ScopedObject(session_.functions(), session_.handle(), k1);
    SIMKMS_ASSIGN_OR_RETURN(record.k1_kcv, ceremony_->K1Kcv(request.ver, request.profile));
  } else {
    // kmsd: K1 was moved by `kmsctl ver add` with the ceremony token, which sends
    // the KCV it computed there (kmsd cannot: K1 only derives, and MK is not here).
    auto moved = FindK1(session_, request.ver);
    if (!moved.ok()) {
      return moved.status().code() == StatusCode::kNotFound
                 ? FailedPreconditionError(subject + ": its K1 is not on the runtime token; `kmsctl ver add` with "
                                                     "--ceremony-token moves it there before it calls kmsd")
                 : moved.status();
    }
    if (request.k1_kcv.size() != 3) return InvalidArgumentError(subject + ": k1_kcv must be 3 bytes (6 hex digits)");
    record.k1_kcv = request.k1_kcv;
  }

  storage::WriteSet writes;
  writes.PutVer(record);
  Status committed = store_.Commit(writes, Event("ver.add", std::to_string(request.ver),
                                                 {{"profile", std::string(ProfileName(request.profile))},
                                                  {"dh_group", request.dh_group},
                                                  {"k1_kcv", ToHex(record.k1_kcv)},
                                                  {"amf", ToHex(record.amf)}}));
  if (!committed.ok()) return committed.WithContext(subject);
  if (new_k1) new_k1.Release();
  return record;
}

StatusOr<storage::VerRecord> Registry::SetActivationCodePolicy(uint32_t ver, bool code_required) {
  SIMKMS_ASSIGN_OR_RETURN(storage::VerRecord record, store_.GetVer(ver));
  if (record.contracts_without_code == !code_required) return record;
  record.contracts_without_code = !code_required;
  storage::WriteSet writes;
  writes.PutVer(record);
  std::vector<std::pair<std::string, std::string>> details{{"activation_code", code_required ? "required" : "optional"}};
  if (!code_required) details.emplace_back("cost", "a K1 holder takes over the first call of a contract without code");
  SIMKMS_RETURN_IF_ERROR(store_.Commit(writes, Event("ver.policy", std::to_string(ver), std::move(details))));
  return record;
}

StatusOr<storage::VerRecord> Registry::SetRekeyPolicy(uint32_t ver, const storage::RekeyPolicy& policy) {
  const std::string subject = "VER " + std::to_string(ver);
  SIMKMS_RETURN_IF_ERROR(
      policy::CheckRekeyPolicy(policy.max_ki2_age_seconds, policy.per_second, policy.per_day).WithContext(subject));
  SIMKMS_ASSIGN_OR_RETURN(storage::VerRecord record, store_.GetVer(ver));
  if (record.rekey == policy) return record;
  record.rekey = policy;
  storage::WriteSet writes;
  writes.PutVer(record);
  SIMKMS_RETURN_IF_ERROR(store_.Commit(writes, Event("ver.rekey-policy", std::to_string(ver),
                                                     {{"max_ki2_age_seconds", std::to_string(policy.max_ki2_age_seconds)},
                                                      {"per_second", std::to_string(policy.per_second)},
                                                      {"per_day", std::to_string(policy.per_day)}})));
  return record;
}

StatusOr<K1Export> Registry::ExportK1(uint32_t ver, const std::string& manufacturer,
                                      const std::string& public_key_pem) {
  SIMKMS_RETURN_IF_ERROR(NeedCeremonyToken(ceremony_, "exporting K1"));
  auto record = store_.GetVer(ver);
  if (!record.ok()) return record.status().WithContext("export K1 of VER " + std::to_string(ver));
  const Profile profile = FromStorage(record->profile);
  K1ExportContext context;
  SIMKMS_ASSIGN_OR_RETURN(auto ranges, store_.ListRanges());
  for (const storage::RangeRecord& r : ranges) {
    if (r.manufacturer == manufacturer && r.ver == ver) {
      context.ranges.push_back(
          {r.id, storage::FormatIccid(r.iccid_first), storage::FormatImsi(r.imsi_first), r.count, r.mnc_digits});
    }
  }
  if (context.ranges.empty()) {
    return FailedPreconditionError("no range of VER " + std::to_string(ver) + " is assigned to " + manufacturer +
                                   ": assign one before exporting K1");
  }
  context.dh_group = std::string(storage::DhGroupName(record->dh_group));
  context.dh_p = record->custom_p;
  context.dh_g = record->custom_g;
  context.amf = record->amf;
  SIMKMS_ASSIGN_OR_RETURN(context.op, OpenField(session_, keys_.op_encryption, OpAssociatedData(ver),
                                                record->op_ciphertext));
  SIMKMS_ASSIGN_OR_RETURN(K1Export exported, kms::ExportK1(ceremony_->session(), ceremony_->mk(), ver, profile,
                                                            manufacturer, public_key_pem, context));
  if (!ConstantTimeEquals(exported.kcv, record->k1_kcv)) {
    return DataLossError("K1 of VER " + std::to_string(ver) + " has KCV " + ToHex(exported.kcv) +
                         " but the VER record says " + ToHex(record->k1_kcv) + " (token and DB disagree)");
  }
  SIMKMS_RETURN_IF_ERROR(store_.Commit(storage::WriteSet(),
                                       Event("ver.export-k1", std::to_string(ver),
                                             {{"manufacturer", manufacturer},
                                              {"k1_kcv", ToHex(exported.kcv)},
                                              {"op_check", ToHex(exported.op_check)},
                                              {"ranges", std::to_string(exported.ranges.size())},
                                              {"wrapping", exported.wrapping},
                                              {"recipient_spki_sha256", ToHex(exported.recipient_spki_sha256)}})));
  return exported;
}

StatusOr<storage::RangeRecord> Registry::AssignRange(const std::string& manufacturer, uint32_t ver,
                                                     const std::string& first_iccid, const std::string& first_imsi,
                                                     int mnc_digits, uint64_t count) {
  if (manufacturer.empty()) return InvalidArgumentError("manufacturer name is empty");
  auto ver_record = store_.GetVer(ver);
  if (!ver_record.ok()) return ver_record.status().WithContext("range for VER " + std::to_string(ver));
  // Numbering rules (E.118 Luhn digit and issuer prefix, E.212 MCC/MNC that a range
  // must not leave) are policy's; storage refuses overlaps inside the commit.
  auto spec = policy::ParseRangeSpec(first_iccid, first_imsi, mnc_digits, std::to_string(count));
  if (!spec.ok()) return spec.status().WithContext("range for " + manufacturer);
  const std::string last_iccid = storage::FormatIccid(spec->iccid_body_last());
  const std::string last_imsi = storage::FormatImsi(spec->imsi_last());

  SIMKMS_ASSIGN_OR_RETURN(auto ranges, store_.ListRanges());
  storage::RangeRecord record;
  for (std::size_t n = ranges.size() + 1;; ++n) {
    char id[16];
    std::snprintf(id, sizeof id, "r-%04zu", n);
    if (store_.GetRange(id).status().code() == StatusCode::kNotFound) {
      record.id = id;
      break;
    }
  }
  record.manufacturer = manufacturer;
  record.ver = ver;
  record.iccid_first = spec->iccid_body_first;
  record.imsi_first = spec->imsi_first;
  record.count = count;
  record.mnc_digits = static_cast<uint8_t>(spec->mnc_digits);
  record.created_at = clock_() / 1000;
  storage::WriteSet writes;
  writes.PutRange(record);
  SIMKMS_RETURN_IF_ERROR(store_.Commit(writes, Event("range.assign", record.id,
                                                     {{"manufacturer", manufacturer},
                                                      {"ver", std::to_string(ver)},
                                                      {"iccid", first_iccid + ".." + last_iccid},
                                                      {"imsi", first_imsi + ".." + last_imsi},
                                                      {"count", std::to_string(count)},
                                                      {"mnc_digits", std::to_string(record.mnc_digits)}})));
  return record;
}

StatusOr<std::size_t> Registry::RederiveAllK1(std::vector<uint32_t>* moved_vers) {
  SIMKMS_RETURN_IF_ERROR(NeedCeremonyToken(ceremony_, "restoring K1"));
  SIMKMS_ASSIGN_OR_RETURN(auto vers, store_.ListVers());
  for (const storage::VerRecord& v : vers) {
    const Profile profile = FromStorage(v.profile);
    bool moved = false;
    SIMKMS_RETURN_IF_ERROR(ceremony_->EnsureK1(v.ver, profile, &moved).status());
    if (moved && moved_vers != nullptr) moved_vers->push_back(v.ver);
    SIMKMS_ASSIGN_OR_RETURN(Bytes kcv, ceremony_->K1Kcv(v.ver, profile));
    if (!ConstantTimeEquals(kcv, v.k1_kcv)) {
      return DataLossError("restored K1 of VER " + std::to_string(v.ver) + " has KCV " + ToHex(kcv) +
                           ", the VER record says " + ToHex(v.k1_kcv) + ": this DB belongs to another master key");
    }
  }
  return vers.size();
}

}  // namespace simkms::kms
