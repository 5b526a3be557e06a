#include "kms/token_keys.h"

#include "kms/ceremony_transport.h"
#include "kms/kcv.h"
#include "kms/master_derivation.h"
#include "kms/token_policy.h"

namespace simkms::kms {

std::string labels::K1(uint32_t ver) { return std::string(kK1Prefix) + std::to_string(ver); }

namespace {

struct KeySpec {
  const ObjectPolicy& (*policy)();  // what the key may do: kms/token_policy.h
  KeyPurpose purpose;
  CK_ULONG length;
};

constexpr KeySpec kServiceKeys[] = {
    {StorageKekPolicy, KeyPurpose::kStorageKek, 32},
    {PukKeyPolicy, KeyPurpose::kPukEncryption, 32},
    {OpKeyPolicy, KeyPurpose::kOpEncryption, 32},
    {RecordKeyPolicy, KeyPurpose::kRecordMac, 32},
};

Status RefuseIfPresent(p11::Session& session, const std::string& label) {
  auto existing = FindByLabel(session, CKO_SECRET_KEY, label);
  if (existing.ok()) return AlreadyExistsError("token already holds " + label);
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();
  return OkStatus();
}

// The four service keys, made in kServiceKeys' order, handed over to the caller.
ServiceKeys ReleaseServiceKeys(std::vector<p11::ScopedObject>& made) {
  ServiceKeys keys;
  keys.storage_kek = made[0].Release();
  keys.puk_encryption = made[1].Release();
  keys.op_encryption = made[2].Release();
  keys.record_mac = made[3].Release();
  return keys;
}

StatusOr<CK_OBJECT_HANDLE> MoveServiceKey(p11::Session& ceremony, CK_OBJECT_HANDLE mk, TransportReceiver& receiver,
                                          const KeySpec& spec) {
  const ObjectPolicy& policy = spec.policy();
  SIMKMS_ASSIGN_OR_RETURN(TransportedKey sent,
                          SendDerivedKey(ceremony, mk, {spec.purpose, 0, policy.key_type, spec.length},
                                         receiver.public_key()));
  return receiver.Receive(policy, std::string(policy.label), {}, sent);
}

}  // namespace

StatusOr<CK_OBJECT_HANDLE> FindByLabel(p11::Session& session, CK_OBJECT_CLASS cls, const std::string& label) {
  // Token objects only: a session object of the same label (a ceremony's twin whose
  // clean-up failed) is not the key and must not stand in for one or block it.
  p11::Attributes query;
  query.Ulong(CKA_CLASS, cls).Text(CKA_LABEL, label).Bool(CKA_TOKEN, true);
  SIMKMS_ASSIGN_OR_RETURN(auto found, session.FindAll(query));
  if (found.empty()) return NotFoundError("token has no object labelled " + label);
  if (found.size() > 1) {
    return DataLossError("token has " + std::to_string(found.size()) + " objects labelled " + label);
  }
  return found.front();
}

StatusOr<ServiceKeys> LoadServiceKeys(p11::Session& runtime) {
  ServiceKeys keys;
  auto kek = FindByLabel(runtime, CKO_SECRET_KEY, labels::kStorageKek);
  if (!kek.ok()) return kek.status().WithContext("token not initialised by a key ceremony (kmsctl init)");
  keys.storage_kek = *kek;
  SIMKMS_ASSIGN_OR_RETURN(keys.puk_encryption, FindByLabel(runtime, CKO_SECRET_KEY, labels::kPukEncryption));
  SIMKMS_ASSIGN_OR_RETURN(keys.op_encryption, FindByLabel(runtime, CKO_SECRET_KEY, labels::kOpEncryption));
  SIMKMS_ASSIGN_OR_RETURN(keys.record_mac, FindByLabel(runtime, CKO_SECRET_KEY, labels::kRecordMac));
  return keys;
}

StatusOr<ServiceKeys> MoveServiceKeys(p11::Session& ceremony, CK_OBJECT_HANDLE mk, p11::Session& runtime,
                                      TransportReceiver& receiver) {
  for (const KeySpec& spec : kServiceKeys) {
    SIMKMS_RETURN_IF_ERROR(RefuseIfPresent(runtime, std::string(spec.policy().label)));
  }
  // Owned until all exist, so a failure leaves none on the runtime token.
  std::vector<p11::ScopedObject> made;
  for (const KeySpec& spec : kServiceKeys) {
    SIMKMS_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE key, MoveServiceKey(ceremony, mk, receiver, spec));
    made.emplace_back(runtime.functions(), runtime.handle(), key);
  }
  return ReleaseServiceKeys(made);
}

StatusOr<std::vector<std::string>> MoveMissingServiceKeys(p11::Session& ceremony, CK_OBJECT_HANDLE mk,
                                                          p11::Session& runtime, TransportReceiver& receiver) {
  std::vector<p11::ScopedObject> made;
  std::vector<std::string> moved;
  for (const KeySpec& spec : kServiceKeys) {
    const std::string label(spec.policy().label);
    auto existing = FindByLabel(runtime, CKO_SECRET_KEY, label);
    if (existing.ok()) continue;
    if (existing.status().code() != StatusCode::kNotFound) return existing.status();
    SIMKMS_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE key, MoveServiceKey(ceremony, mk, receiver, spec));
    made.emplace_back(runtime.functions(), runtime.handle(), key);
    moved.push_back(label);
  }
  for (p11::ScopedObject& key : made) key.Release();
  return moved;
}

StatusOr<CK_OBJECT_HANDLE> MoveK1(p11::Session& ceremony, CK_OBJECT_HANDLE mk, p11::Session& runtime,
                                  TransportReceiver& receiver, uint32_t ver, Profile profile) {
  const std::string label = labels::K1(ver);
  SIMKMS_RETURN_IF_ERROR(RefuseIfPresent(runtime, label));
  SIMKMS_ASSIGN_OR_RETURN(TransportedKey sent, SendDerivedKey(ceremony, mk, K1Spec(ver, profile), receiver.public_key()));
  return receiver.Receive(K1Policy(profile == Profile::kLegacy), label, {}, sent);
}

StatusOr<CK_OBJECT_HANDLE> FindK1(p11::Session& session, uint32_t ver) {
  return FindByLabel(session, CKO_SECRET_KEY, labels::K1(ver));
}

StatusOr<Bytes> K1Kcv(p11::Session& session, CK_OBJECT_HANDLE mk, uint32_t ver, Profile profile) {
  const DerivedKeySpec k1 = K1Spec(ver, profile);
  // DES KCVs encrypt a zero block, AES KCVs are a CMAC: the copy does that one thing.
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject copy, DeriveSessionCopy(session, mk, k1, /*extractable=*/false,
                                                                    KcvUsage(k1.key_type), "K1 copy for its KCV"));
  return TokenKcv(session, copy.get(), labels::K1(ver));
}

}  // namespace simkms::kms
