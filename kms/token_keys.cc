#include "kms/token_keys.h"

#include "kms/kcv.h"

namespace simkms::kms {

std::string labels::K1(uint32_t ver) { return "simkms/k1/" + std::to_string(ver); }

namespace {

struct KeySpec {
  const char* label;
  KeyPurpose purpose;
  CK_KEY_TYPE type;
  CK_ULONG length;
  // Usage flags: each key does one job (plus CMAC/HMAC for its KCV).
  bool wrap = false;
  bool crypt = false;
  bool sign = false;
};

constexpr KeySpec kServiceKeys[] = {
    {labels::kStorageKek, KeyPurpose::kStorageKek, CKK_AES, 32, /*wrap=*/true, false, /*sign=*/true},
    {labels::kAuditMac, KeyPurpose::kAuditMac, CKK_GENERIC_SECRET, 32, false, false, true},
    {labels::kPukEncryption, KeyPurpose::kPukEncryption, CKK_AES, 32, false, /*crypt=*/true, true},
    {labels::kOpEncryption, KeyPurpose::kOpEncryption, CKK_AES, 32, false, true, true},
    {labels::kRecordMac, KeyPurpose::kRecordMac, CKK_GENERIC_SECRET, 32, false, false, true},
};

p11::Attributes PersistentSecretKey(const std::string& label, CK_KEY_TYPE type) {
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, type)
      .Text(CKA_LABEL, label)
      .Bool(CKA_TOKEN, true)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false);
  return a;
}

Status RefuseIfPresent(p11::Session& session, const std::string& label) {
  auto existing = FindByLabel(session, CKO_SECRET_KEY, label);
  if (existing.ok()) return AlreadyExistsError("token already holds " + label);
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();
  return OkStatus();
}

StatusOr<p11::ScopedObject> DeriveFromMaster(p11::Session& session, CK_OBJECT_HANDLE mk, KeyPurpose purpose,
                                             uint64_t context, CK_ULONG length, p11::Attributes& attributes,
                                             std::string_view what) {
  // DES keys take the first 8 bytes of one derived block.
  Bytes data = MasterDerivationData(purpose, context, length < 16 ? 16 : length);
  CK_KEY_DERIVATION_STRING_DATA params{data.data(), static_cast<CK_ULONG>(data.size())};
  return session.DeriveKey({CKM_AES_ECB_ENCRYPT_DATA, &params, sizeof params}, mk, attributes, what);
}

StatusOr<p11::ScopedObject> DeriveServiceKey(p11::Session& session, CK_OBJECT_HANDLE mk, const KeySpec& spec) {
  p11::Attributes a = PersistentSecretKey(spec.label, spec.type);
  a.Ulong(CKA_VALUE_LEN, spec.length)
      .Bool(CKA_WRAP, spec.wrap)
      .Bool(CKA_UNWRAP, spec.wrap)
      .Bool(CKA_ENCRYPT, spec.crypt)
      .Bool(CKA_DECRYPT, spec.crypt)
      .Bool(CKA_SIGN, spec.sign)
      .Bool(CKA_VERIFY, spec.sign)
      .Bool(CKA_DERIVE, false);
  return DeriveFromMaster(session, mk, spec.purpose, 0, spec.length, a, spec.label);
}

}  // namespace

StatusOr<CK_OBJECT_HANDLE> FindByLabel(p11::Session& session, CK_OBJECT_CLASS cls, const std::string& label) {
  p11::Attributes query;
  query.Ulong(CKA_CLASS, cls).Text(CKA_LABEL, label);
  SIMKMS_ASSIGN_OR_RETURN(auto found, session.FindAll(query));
  if (found.empty()) return NotFoundError("token has no object labelled " + label);
  if (found.size() > 1) {
    return DataLossError("token has " + std::to_string(found.size()) + " objects labelled " + label);
  }
  return found.front();
}

StatusOr<ServiceKeys> LoadServiceKeys(p11::Session& session) {
  ServiceKeys keys;
  auto mk = FindByLabel(session, CKO_SECRET_KEY, labels::kMasterKey);
  if (!mk.ok()) return mk.status().WithContext("token not initialised by a key ceremony (kmsctl init)");
  keys.mk = *mk;
  SIMKMS_ASSIGN_OR_RETURN(keys.storage_kek, FindByLabel(session, CKO_SECRET_KEY, labels::kStorageKek));
  SIMKMS_ASSIGN_OR_RETURN(keys.audit_mac, FindByLabel(session, CKO_SECRET_KEY, labels::kAuditMac));
  SIMKMS_ASSIGN_OR_RETURN(keys.puk_encryption, FindByLabel(session, CKO_SECRET_KEY, labels::kPukEncryption));
  SIMKMS_ASSIGN_OR_RETURN(keys.op_encryption, FindByLabel(session, CKO_SECRET_KEY, labels::kOpEncryption));
  SIMKMS_ASSIGN_OR_RETURN(keys.record_mac, FindByLabel(session, CKO_SECRET_KEY, labels::kRecordMac));
  return keys;
}

StatusOr<ServiceKeys> DeriveServiceKeys(p11::Session& session, CK_OBJECT_HANDLE mk) {
  for (const KeySpec& spec : kServiceKeys) SIMKMS_RETURN_IF_ERROR(RefuseIfPresent(session, spec.label));
  // Kept as ScopedObjects until all four exist, so a failure leaves none behind.
  std::vector<p11::ScopedObject> made;
  for (const KeySpec& spec : kServiceKeys) {
    SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject key, DeriveServiceKey(session, mk, spec));
    made.push_back(std::move(key));
  }
  ServiceKeys keys;
  keys.mk = mk;
  keys.storage_kek = made[0].Release();
  keys.audit_mac = made[1].Release();
  keys.puk_encryption = made[2].Release();
  keys.op_encryption = made[3].Release();
  keys.record_mac = made[4].Release();
  return keys;
}

StatusOr<std::vector<std::string>> DeriveMissingServiceKeys(p11::Session& session, CK_OBJECT_HANDLE mk) {
  std::vector<p11::ScopedObject> made;
  std::vector<std::string> labels;
  for (const KeySpec& spec : kServiceKeys) {
    auto existing = FindByLabel(session, CKO_SECRET_KEY, spec.label);
    if (existing.ok()) continue;
    if (existing.status().code() != StatusCode::kNotFound) return existing.status();
    SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject key, DeriveServiceKey(session, mk, spec));
    made.push_back(std::move(key));
    labels.push_back(spec.label);
  }
  for (p11::ScopedObject& key : made) key.Release();
  return labels;
}

namespace {

KeyPurpose K1Purpose(Profile profile) {
  return profile == Profile::kLegacy ? KeyPurpose::kK1Legacy : KeyPurpose::kK1Modern;
}
CK_KEY_TYPE K1Type(Profile profile) { return profile == Profile::kLegacy ? CKK_DES : CKK_AES; }
CK_ULONG K1Length(Profile profile) { return profile == Profile::kLegacy ? 8 : 16; }

}  // namespace

StatusOr<CK_OBJECT_HANDLE> DeriveK1(p11::Session& session, CK_OBJECT_HANDLE mk, uint32_t ver, Profile profile) {
  const std::string label = labels::K1(ver);
  SIMKMS_RETURN_IF_ERROR(RefuseIfPresent(session, label));
  p11::Attributes a = PersistentSecretKey(label, K1Type(profile));
  if (profile == Profile::kModern) a.Ulong(CKA_VALUE_LEN, K1Length(profile));
  a.Bool(CKA_DERIVE, true).Bool(CKA_ENCRYPT, false).Bool(CKA_SIGN, false).Bool(CKA_WRAP, false);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject k1,
                          DeriveFromMaster(session, mk, K1Purpose(profile), ver, K1Length(profile), a, label));
  return k1.Release();
}

StatusOr<CK_OBJECT_HANDLE> FindK1(p11::Session& session, uint32_t ver) {
  return FindByLabel(session, CKO_SECRET_KEY, labels::K1(ver));
}

StatusOr<Bytes> K1Kcv(p11::Session& session, CK_OBJECT_HANDLE mk, uint32_t ver, Profile profile) {
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, K1Type(profile))
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false)
      .Bool(CKA_ENCRYPT, profile == Profile::kLegacy)
      .Bool(CKA_SIGN, profile == Profile::kModern);
  if (profile == Profile::kModern) a.Ulong(CKA_VALUE_LEN, K1Length(profile));
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject copy, DeriveFromMaster(session, mk, K1Purpose(profile), ver,
                                                                   K1Length(profile), a, "K1 copy for its KCV"));
  return TokenKcv(session, copy.get(), labels::K1(ver));
}

}  // namespace simkms::kms
