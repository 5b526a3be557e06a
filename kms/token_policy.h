// The one table of what each object simkms keeps on its token may do, read by
// every place that makes a persistent key (the creation templates), by
// `kmsctl token check` and by kmsd's start-up check.
//
// Every persistent key is a private, sensitive, unextractable, unmodifiable
// token object, and every usage attribute (CKA_ENCRYPT ... CKA_DERIVE) is given
// explicitly, so no function comes from a module default and none can be
// switched on later (SoftHSM answers CKR_ACTION_PROHIBITED). The checkpoint
// object is a private data object. Anything else on the token, any attribute
// that differs, or a public object with one of our labels is a violation.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/bytes.h"
#include "base/status.h"
#include "pkcs11/session.h"

namespace simkms::kms {

// The functions a key may have, as bits.
enum Usage : uint32_t {
  kNoUsage = 0,
  kEncrypt = 1u << 0,
  kDecrypt = 1u << 1,
  kWrap = 1u << 2,
  kUnwrap = 1u << 3,
  kSign = 1u << 4,
  kVerify = 1u << 5,
  kDerive = 1u << 6,
};

// Every K1 is labelled kK1Prefix + its VER (labels::K1 in kms/token_keys.h).
inline constexpr char kK1Prefix[] = "simkms/k1/";

// The two tokens: the runtime token kmsd uses, and the ceremony token that holds
// MK (kms/ceremony_token.h), which kmsd never logs in to.
enum class TokenRole { kRuntime, kCeremony };

struct ObjectPolicy {
  std::string_view name;   // "storage KEK"
  std::string_view label;  // exact label, or a prefix when label_is_prefix
  bool label_is_prefix = false;
  CK_OBJECT_CLASS object_class = CKO_SECRET_KEY;
  CK_KEY_TYPE key_type = CKK_AES;  // secret keys only
  uint32_t usage = kNoUsage;       // secret keys only
  // The key carries CKA_UNWRAP_TEMPLATE = UnwrappedKeyTemplate(): SoftHSM refuses
  // (CKR_TEMPLATE_INCONSISTENT) an unwrap under it whose template does not name
  // each of those attributes with the same value, so nothing it unwraps can be
  // made extractable, readable or persistent. (CKA_DERIVE_TEMPLATE, its
  // counterpart for K1 and MK, SoftHSM 2.6.1 does not know.)
  bool unwrap_template = false;
  // The token this object belongs on; on the other it is a violation (MK on the
  // runtime token would put every key within reach of kmsd's PIN).
  TokenRole token = TokenRole::kRuntime;
};

// What every key unwrapped under a key with `unwrap_template` must be: a private,
// sensitive, unextractable session object.
std::span<const CK_ATTRIBUTE> UnwrappedKeyTemplate();

// Every object kind either token may hold (each entry says which).
std::span<const ObjectPolicy> TokenPolicy();
const ObjectPolicy& MasterKeyPolicy();
const ObjectPolicy& StorageKekPolicy();
// E_e of kms/audit_epochs.h: AES-256, derive-only, CKA_ID = BE64(e). The token holds
// exactly one, or two of consecutive epochs between TokenAuditMac::CloseEpoch making
// the next one and destroying the old (a crash there; the Store finishes the close
// at its next start).
const ObjectPolicy& AuditEpochKeyPolicy();
const ObjectPolicy& PukKeyPolicy();
const ObjectPolicy& OpKeyPolicy();
const ObjectPolicy& RecordKeyPolicy();
const ObjectPolicy& K1Policy(bool legacy);

// Names every usage attribute a key of `object_class` has: on for the functions
// in `usage`, off for the rest (a public key has no CKA_DECRYPT, a private key no
// CKA_ENCRYPT: naming them is CKR_ATTRIBUTE_TYPE_INVALID).
p11::Attributes& SetUsage(p11::Attributes& attributes, uint32_t usage, CK_OBJECT_CLASS object_class = CKO_SECRET_KEY);

// The creation template of a persistent key of `policy` labelled `label`:
// class, key type, label, CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, CKA_EXTRACTABLE
// false, CKA_MODIFIABLE false, the seven usage attributes and the policy's
// CKA_UNWRAP_TEMPLATE. Every persistent key is unmodifiable, MK included: SoftHSM
// 2.6.1 takes CKA_MODIFIABLE=false in C_UnwrapKey as long as the template does not
// name CKA_VALUE_LEN (which an unwrap refuses whatever the order).
// value_len: CKA_VALUE_LEN, 0 for none; id: CKA_ID, empty for none. CKA_MODIFIABLE
// comes last: SoftHSM applies a template in order and refuses
// (CKR_ATTRIBUTE_READ_ONLY) any attribute after CKA_MODIFIABLE=false, which is why
// it seemed to refuse the attribute itself.
p11::Attributes PersistentKeyTemplate(const ObjectPolicy& policy, const std::string& label, CK_ULONG value_len = 0,
                                      ByteView id = {});

// A key that must leave the token once before it is sealed (the audit seed's
// export to the auditor) cannot be made as above: sealing it afterwards
// (CKA_EXTRACTABLE true -> false) is a C_SetAttributeValue, which an unmodifiable
// key refuses. It is made as a session twin instead, extractable and modifiable,
// from this template (otherwise PersistentKeyTemplate's); after the wrap,
// SealTwinToToken makes the persistent key from it.
p11::Attributes ExportableTwinTemplate(const ObjectPolicy& policy, const std::string& label, CK_ULONG value_len,
                                       ByteView id = {});
// Seals `twin` (CKA_EXTRACTABLE false), then CopyTwinToToken without a check value.
StatusOr<CK_OBJECT_HANDLE> SealTwinToToken(p11::Session& session, p11::ScopedObject twin, std::string_view what);

// A key that arrives from the ceremony token wrapped (kms/ceremony_transport.h) is
// unwrapped as a session twin from this template (unextractable, no CKA_VALUE_LEN,
// which C_UnwrapKey refuses) and then copied to the token: the copy is where
// SoftHSM checks a CKA_CHECK_VALUE against the key, which an unwrap template
// cannot name (the value is not set yet when it is applied).
p11::Attributes UnwrapTwinTemplate(const ObjectPolicy& policy, const std::string& label, ByteView id = {});

// Copies `twin` to the token with {CKA_TOKEN=true, CKA_CHECK_VALUE (unless empty),
// CKA_MODIFIABLE=false}, in that order (SoftHSM refuses anything after
// CKA_MODIFIABLE=false; a copy may change all three, and refuses a wrong check
// value with CKR_ATTRIBUTE_VALUE_INVALID), and destroys the twin. The persistent key.
StatusOr<CK_OBJECT_HANDLE> CopyTwinToToken(p11::Session& session, p11::ScopedObject twin, ByteView check_value,
                                           std::string_view what);

// One token object as found, against what the policy expects of it.
struct ObservedObject {
  std::string label;
  std::string object_class;  // "secret key", "data", ...
  std::string key_type;      // "AES", "DES", "generic secret"; empty for data
  std::string policy;        // name of the matching policy entry; empty if none
  // Attribute name -> value as read ("true"/"false"), in a fixed order.
  std::vector<std::pair<std::string, std::string>> attributes;
  std::vector<std::string> problems;  // empty: conforms
};

struct TokenCheck {
  std::vector<ObservedObject> objects;
  // Differences of the token as a whole (how many audit epoch keys it holds).
  std::vector<std::string> problems;
  std::size_t violations() const;
  bool ok() const { return violations() == 0; }
  // "3 violations: simkms/k1/2: CKA_DECRYPT is true, policy says false; ..."
  std::string Summary() const;
  nlohmann::ordered_json ToJson() const;
};

// Reads every token object the logged-in session can see (public and private)
// and compares it with the policy for a token of `role`.
StatusOr<TokenCheck> CheckTokenObjects(p11::Session& session, TokenRole role = TokenRole::kRuntime);

}  // namespace simkms::kms
