#include "kms/token_policy.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <nlohmann/json.hpp>

#include "kms/audit_epochs.h"
#include "kms/token_keys.h"
#include "pkcs11/error.h"
#include "pkcs11/module.h"

namespace simkms::kms {
namespace {

// KCVs are CMAC/HMAC signatures (kms/kcv.h), so each key that has a KCV signs.
constexpr ObjectPolicy kPolicies[] = {
    {"MK", labels::kMasterKey, false, CKO_SECRET_KEY, CKK_AES, kDerive | kSign, false, TokenRole::kCeremony},
    {"storage KEK", labels::kStorageKek, false, CKO_SECRET_KEY, CKK_AES, kWrap | kUnwrap | kSign,
     /*unwrap_template=*/true},
    // Derives the next epoch's key and the epoch's MAC key, nothing else; no KCV
    // (the auditor checks the seed with the export's seed_check instead).
    {"audit epoch key", labels::kAuditEpochKey, false, CKO_SECRET_KEY, CKK_AES, kDerive},
    {"PUK key", labels::kPukEncryption, false, CKO_SECRET_KEY, CKK_AES, kEncrypt | kDecrypt | kSign},
    {"OP key", labels::kOpEncryption, false, CKO_SECRET_KEY, CKK_AES, kEncrypt | kDecrypt | kSign},
    {"record key", labels::kRecordMac, false, CKO_SECRET_KEY, CKK_GENERIC_SECRET, kSign | kVerify},
    // K1 only derives Ki_1; its KCV is computed on a transient copy.
    {"K1 (modern)", kK1Prefix, true, CKO_SECRET_KEY, CKK_AES, kDerive},
    {"K1 (legacy)", kK1Prefix, true, CKO_SECRET_KEY, CKK_DES, kDerive},
    {"audit checkpoint", labels::kAuditHead, false, CKO_DATA, 0, kNoUsage},
    // The same checkpoint on a token that keeps no private token data objects (NSS's
    // softoken): its CKA_ID holds it, its value is random and of no use (kms/token_audit.cc).
    {"audit checkpoint (key form)", labels::kAuditHead, false, CKO_SECRET_KEY, CKK_GENERIC_SECRET, kNoUsage},
};

struct UsageAttribute {
  CK_ATTRIBUTE_TYPE type;
  Usage bit;
  const char* name;
};
constexpr UsageAttribute kUsageAttributes[] = {
    {CKA_ENCRYPT, kEncrypt, "CKA_ENCRYPT"}, {CKA_DECRYPT, kDecrypt, "CKA_DECRYPT"},
    {CKA_WRAP, kWrap, "CKA_WRAP"},          {CKA_UNWRAP, kUnwrap, "CKA_UNWRAP"},
    {CKA_SIGN, kSign, "CKA_SIGN"},          {CKA_VERIFY, kVerify, "CKA_VERIFY"},
    {CKA_DERIVE, kDerive, "CKA_DERIVE"},
};

struct FixedAttribute {
  CK_ATTRIBUTE_TYPE type;
  bool value;
  const char* name;
};
// What every persistent key must be, whatever its job (and CKA_MODIFIABLE false,
// which a template must name last).
constexpr FixedAttribute kKeyAttributes[] = {
    {CKA_TOKEN, true, "CKA_TOKEN"},
    {CKA_PRIVATE, true, "CKA_PRIVATE"},
    {CKA_SENSITIVE, true, "CKA_SENSITIVE"},
    {CKA_EXTRACTABLE, false, "CKA_EXTRACTABLE"},
};
constexpr FixedAttribute kDataAttributes[] = {
    {CKA_TOKEN, true, "CKA_TOKEN"},
    {CKA_PRIVATE, true, "CKA_PRIVATE"},
};

// The unwrap template's values live as long as the program: a template holds
// pointers to them.
CK_BBOOL kFalseValue = CK_FALSE;
CK_BBOOL kTrueValue = CK_TRUE;
const CK_ATTRIBUTE kUnwrappedKey[] = {
    {CKA_TOKEN, &kFalseValue, sizeof(CK_BBOOL)},
    {CKA_PRIVATE, &kTrueValue, sizeof(CK_BBOOL)},
    {CKA_SENSITIVE, &kTrueValue, sizeof(CK_BBOOL)},
    {CKA_EXTRACTABLE, &kFalseValue, sizeof(CK_BBOOL)},
};

const ObjectPolicy& Named(std::string_view name) {
  for (const ObjectPolicy& p : kPolicies) {
    if (p.name == name) return p;
  }
  std::abort();  // a name below is misspelled: a programming error
}

std::string ClassName(CK_OBJECT_CLASS c) {
  switch (c) {
    case CKO_SECRET_KEY: return "secret key";
    case CKO_DATA: return "data";
    case CKO_PUBLIC_KEY: return "public key";
    case CKO_PRIVATE_KEY: return "private key";
    case CKO_CERTIFICATE: return "certificate";
    default: return "class " + std::to_string(c);
  }
}

std::string KeyTypeName(CK_KEY_TYPE t) {
  switch (t) {
    case CKK_AES: return "AES";
    case CKK_DES: return "DES";
    case CKK_DES3: return "DES3";
    case CKK_GENERIC_SECRET: return "generic secret";
    case CKK_RSA: return "RSA";
    case CKK_EC: return "EC";
    case CKK_DH: return "DH";
    default: return "key type " + std::to_string(t);
  }
}

bool LabelMatches(const ObjectPolicy& p, const std::string& label) {
  if (!p.label_is_prefix) return label == p.label;
  return label.size() > p.label.size() && label.compare(0, p.label.size(), p.label) == 0;
}

StatusOr<CK_ULONG> UlongAttribute(p11::Session& session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
  SIMKMS_ASSIGN_OR_RETURN(Bytes v, session.GetAttribute(object, type, "token check"));
  if (v.size() != sizeof(CK_ULONG)) return InternalError("token check: attribute is not a CK_ULONG");
  CK_ULONG out = 0;
  std::memcpy(&out, v.data(), sizeof out);
  return out;
}

void Compare(p11::Session& session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type, const char* name, bool expected,
             ObservedObject& o) {
  auto value = session.GetBoolAttribute(object, type, "token check");
  if (!value.ok()) {
    o.attributes.emplace_back(name, "unreadable");
    o.problems.push_back(std::string(name) + " cannot be read (" + value.status().message() + ")");
    return;
  }
  o.attributes.emplace_back(name, *value ? "true" : "false");
  if (*value != expected) {
    o.problems.push_back(std::string(name) + " is " + (*value ? "true" : "false") + ", policy says " +
                         (expected ? "true" : "false"));
  }
}

// SoftHSM gives an attribute array's size with pValue NULL; the number of entries
// tells a key made with the policy's template from one planted without it (whose
// entries cannot differ: the key is unmodifiable).
void CompareUnwrapTemplate(p11::Session& session, CK_OBJECT_HANDLE object, std::size_t expected, ObservedObject& o) {
  CK_ATTRIBUTE a{CKA_UNWRAP_TEMPLATE, nullptr, 0};
  const CK_RV rv = session.functions()->C_GetAttributeValue(session.handle(), object, &a, 1);
  const char* name = "CKA_UNWRAP_TEMPLATE";
  if (rv != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
    o.attributes.emplace_back(name, "unreadable");
    if (expected != 0) o.problems.push_back(std::string(name) + " cannot be read (" + p11::CkrName(rv) + ")");
    return;
  }
  const std::size_t found = a.ulValueLen / sizeof(CK_ATTRIBUTE);
  o.attributes.emplace_back(name, std::to_string(found) + " attributes");
  if (found != expected) {
    o.problems.push_back(std::string(name) + " has " + std::to_string(found) + " attributes, policy says " +
                         std::to_string(expected));
  }
}

StatusOr<ObservedObject> Observe(p11::Session& session, CK_OBJECT_HANDLE object, TokenRole role) {
  ObservedObject o;
  SIMKMS_ASSIGN_OR_RETURN(CK_ULONG cls, UlongAttribute(session, object, CKA_CLASS));
  o.object_class = ClassName(cls);
  auto label = session.GetAttribute(object, CKA_LABEL, "token check");
  if (label.ok()) o.label.assign(label->begin(), label->end());
  CK_ULONG key_type = 0;
  const bool is_key = cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY;
  if (is_key) {
    SIMKMS_ASSIGN_OR_RETURN(key_type, UlongAttribute(session, object, CKA_KEY_TYPE));
    o.key_type = KeyTypeName(key_type);
  }
  const ObjectPolicy* policy = nullptr;
  bool label_known = false;
  for (const ObjectPolicy& p : kPolicies) {
    if (!LabelMatches(p, o.label)) continue;
    label_known = true;
    if (p.object_class == cls && (cls != CKO_SECRET_KEY || p.key_type == key_type)) {
      policy = &p;
      break;
    }
  }
  if (policy == nullptr) {
    o.problems.push_back(label_known ? "a " + o.object_class + (is_key ? " (" + o.key_type + ")" : "") +
                                           " with one of simkms' labels, of a kind the policy does not allow"
                                     : "object not in the token policy");
    return o;
  }
  o.policy = std::string(policy->name);
  if (policy->token != role) {
    o.problems.push_back(policy->token == TokenRole::kCeremony
                             ? "belongs on the ceremony token only: here the runtime token's PIN (kmsd's) reaches it"
                             : "belongs on the runtime token, not the ceremony token");
  }
  if (cls == CKO_DATA) {
    for (const FixedAttribute& a : kDataAttributes) Compare(session, object, a.type, a.name, a.value, o);
    return o;
  }
  for (const FixedAttribute& a : kKeyAttributes) Compare(session, object, a.type, a.name, a.value, o);
  Compare(session, object, CKA_MODIFIABLE, "CKA_MODIFIABLE", false, o);
  for (const UsageAttribute& u : kUsageAttributes) {
    Compare(session, object, u.type, u.name, (policy->usage & u.bit) != 0, o);
  }
  CompareUnwrapTemplate(session, object, policy->unwrap_template ? std::size(kUnwrappedKey) : 0, o);
  if (policy == &Named("audit epoch key")) {
    auto id = session.GetAttribute(object, CKA_ID, "token check");
    if (id.ok() && id->size() == 8) {
      uint64_t epoch = 0;
      for (uint8_t b : *id) epoch = (epoch << 8) | b;
      o.attributes.emplace_back("epoch", std::to_string(epoch));
    } else {
      o.attributes.emplace_back("epoch", "malformed");
      o.problems.push_back("CKA_ID is not an 8-byte epoch number");
    }
  }
  return o;
}

// One epoch key, or two of consecutive epochs (a close interrupted between making
// the next key and destroying the old: the Store finishes it at its next start, so
// refusing it here would keep kmsd from ever getting there).
void CheckEpochKeys(TokenCheck& check) {
  std::vector<uint64_t> epochs;
  for (const ObservedObject& o : check.objects) {
    if (o.policy != Named("audit epoch key").name) continue;
    for (const auto& [name, value] : o.attributes) {
      if (name == "epoch" && value != "malformed") epochs.push_back(std::stoull(value));
    }
  }
  std::sort(epochs.begin(), epochs.end());
  const std::string label = labels::kAuditEpochKey;
  if (epochs.empty()) {
    check.problems.push_back("no audit epoch key (" + label + "): not initialised by kmsctl init or restore");
    return;
  }
  if (epochs.size() == 1) return;
  if (epochs.size() == 2 && epochs[1] == epochs[0] + 1) return;
  std::string list;
  for (uint64_t e : epochs) list += (list.empty() ? "" : ", ") + std::to_string(e);
  check.problems.push_back(std::to_string(epochs.size()) + " audit epoch keys (" + label + ", epochs " + list +
                           "): the policy allows one, or two of consecutive epochs during a close");
}

// Two keys of one label (other than the epoch keys, told apart by their epoch):
// a moved key keeps CKA_COPYABLE (SoftHSM refuses the attribute in the copy that
// makes it), so a PIN holder can C_CopyObject it. The copy cannot do more than
// the key (its attributes cannot be widened), but the token no longer holds
// exactly what the ceremonies made. `objects` is sorted by label.
void CheckDuplicateLabels(TokenCheck& check) {
  for (std::size_t i = 1; i < check.objects.size(); ++i) {
    const ObservedObject& a = check.objects[i - 1];
    const ObservedObject& b = check.objects[i];
    if (a.label != b.label || a.policy == Named("audit epoch key").name) continue;
    check.problems.push_back("two objects labelled " + a.label + " (a copy of a key: C_CopyObject)");
  }
}

}  // namespace

std::span<const ObjectPolicy> TokenPolicy() { return kPolicies; }
const ObjectPolicy& MasterKeyPolicy() { return Named("MK"); }
const ObjectPolicy& StorageKekPolicy() { return Named("storage KEK"); }
const ObjectPolicy& AuditEpochKeyPolicy() { return Named("audit epoch key"); }
std::span<const CK_ATTRIBUTE> UnwrappedKeyTemplate() { return kUnwrappedKey; }
const ObjectPolicy& PukKeyPolicy() { return Named("PUK key"); }
const ObjectPolicy& OpKeyPolicy() { return Named("OP key"); }
const ObjectPolicy& RecordKeyPolicy() { return Named("record key"); }
const ObjectPolicy& K1Policy(bool legacy) { return Named(legacy ? "K1 (legacy)" : "K1 (modern)"); }

p11::Attributes& SetUsage(p11::Attributes& attributes, uint32_t usage, CK_OBJECT_CLASS object_class) {
  constexpr uint32_t kPublicOnly = kEncrypt | kVerify | kWrap;
  constexpr uint32_t kPrivateOnly = kDecrypt | kSign | kUnwrap;
  for (const UsageAttribute& u : kUsageAttributes) {
    if (object_class == CKO_PUBLIC_KEY && (u.bit & kPrivateOnly) != 0) continue;
    if (object_class == CKO_PRIVATE_KEY && (u.bit & kPublicOnly) != 0) continue;
    attributes.Bool(u.type, (usage & u.bit) != 0);
  }
  return attributes;
}

namespace {

enum class Made { kPersistent, kExportableTwin, kUnwrapTwin };

// The one template builder, for the persistent key and its two kinds of session
// twin (token_policy.h says why each exists).
p11::Attributes KeyTemplate(const ObjectPolicy& policy, const std::string& label, CK_ULONG value_len, ByteView id,
                            Made made) {
  p11::Attributes a;
  a.Ulong(CKA_CLASS, policy.object_class).Ulong(CKA_KEY_TYPE, policy.key_type).Text(CKA_LABEL, label);
  if (!id.empty()) a.Blob(CKA_ID, id);
  for (const FixedAttribute& f : kKeyAttributes) {
    if (made != Made::kPersistent && f.type == CKA_TOKEN) {
      a.Bool(CKA_TOKEN, false);
    } else if (made == Made::kExportableTwin && f.type == CKA_EXTRACTABLE) {
      a.Bool(CKA_EXTRACTABLE, true);
    } else {
      a.Bool(f.type, f.value);
    }
  }
  SetUsage(a, policy.usage);
  if (policy.unwrap_template) {
    a.Blob(CKA_UNWRAP_TEMPLATE, ByteView(reinterpret_cast<const uint8_t*>(kUnwrappedKey), sizeof kUnwrappedKey));
  }
  // An unwrap refuses CKA_VALUE_LEN (it takes the length from the blob).
  if (value_len != 0 && made != Made::kUnwrapTwin) a.Ulong(CKA_VALUE_LEN, value_len);
  // A twin stays modifiable until it is copied; the copy makes it unmodifiable.
  if (made == Made::kPersistent) a.Bool(CKA_MODIFIABLE, false);
  return a;
}

}  // namespace

p11::Attributes PersistentKeyTemplate(const ObjectPolicy& policy, const std::string& label, CK_ULONG value_len,
                                      ByteView id) {
  return KeyTemplate(policy, label, value_len, id, Made::kPersistent);
}

p11::Attributes ExportableTwinTemplate(const ObjectPolicy& policy, const std::string& label, CK_ULONG value_len,
                                       ByteView id) {
  return KeyTemplate(policy, label, value_len, id, Made::kExportableTwin);
}

p11::Attributes UnwrapTwinTemplate(const ObjectPolicy& policy, const std::string& label, ByteView id) {
  return KeyTemplate(policy, label, 0, id, Made::kUnwrapTwin);
}

StatusOr<CK_OBJECT_HANDLE> CopyTwinToToken(p11::Session& session, p11::ScopedObject twin, ByteView check_value,
                                           std::string_view what) {
  p11::Attributes copy;
  copy.Bool(CKA_TOKEN, true);
  if (!check_value.empty()) copy.Blob(CKA_CHECK_VALUE, check_value);
  copy.Bool(CKA_MODIFIABLE, false);
  CK_OBJECT_HANDLE persistent = CK_INVALID_HANDLE;
  // A token object is made: excluded from concurrent searches (p11::Module::token_object_lock).
  std::unique_lock<std::shared_mutex> lock(session.module()->token_object_lock());
  SIMKMS_RETURN_IF_ERROR(p11::CkStatus(
      session.functions()->C_CopyObject(session.handle(), twin.get(), copy.data(), copy.size(), &persistent),
      "C_CopyObject(" + std::string(what) + " onto the token)"));
  return persistent;  // `twin` is destroyed on return
}

StatusOr<CK_OBJECT_HANDLE> SealTwinToToken(p11::Session& session, p11::ScopedObject twin, std::string_view what) {
  p11::Attributes seal;
  seal.Bool(CKA_EXTRACTABLE, false);
  SIMKMS_RETURN_IF_ERROR(session.SetAttributes(twin.get(), seal, "seal " + std::string(what)));
  return CopyTwinToToken(session, std::move(twin), {}, what);
}

std::size_t TokenCheck::violations() const {
  std::size_t n = problems.size();
  for (const ObservedObject& o : objects) n += o.problems.size();
  return n;
}

std::string TokenCheck::Summary() const {
  const std::size_t n = violations();
  if (n == 0) return std::to_string(objects.size()) + " objects, all as the token policy says";
  std::string out = std::to_string(n) + (n == 1 ? " violation: " : " violations: ");
  bool first = true;
  for (const std::string& p : problems) {
    if (!first) out += "; ";
    first = false;
    out += "token: " + p;
  }
  for (const ObservedObject& o : objects) {
    for (const std::string& p : o.problems) {
      if (!first) out += "; ";
      first = false;
      out += (o.label.empty() ? "(no label)" : o.label) + ": " + p;
    }
  }
  return out;
}

nlohmann::ordered_json TokenCheck::ToJson() const {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const ObservedObject& o : objects) {
    nlohmann::ordered_json j;
    j["label"] = o.label;
    j["class"] = o.object_class;
    if (!o.key_type.empty()) j["key_type"] = o.key_type;
    j["policy"] = o.policy;
    nlohmann::ordered_json attrs = nlohmann::ordered_json::object();
    for (const auto& [k, v] : o.attributes) attrs[k] = v;
    j["attributes"] = attrs;
    j["problems"] = o.problems;
    list.push_back(std::move(j));
  }
  nlohmann::ordered_json out;
  out["ok"] = ok();
  out["violations"] = violations();
  out["problems"] = problems;
  out["objects"] = std::move(list);
  return out;
}

StatusOr<TokenCheck> CheckTokenObjects(p11::Session& session, TokenRole role) {
  p11::Attributes query;
  query.Bool(CKA_TOKEN, true);
  SIMKMS_ASSIGN_OR_RETURN(auto handles, session.FindAll(query));
  TokenCheck check;
  for (CK_OBJECT_HANDLE h : handles) {
    SIMKMS_ASSIGN_OR_RETURN(ObservedObject o, Observe(session, h, role));
    check.objects.push_back(std::move(o));
  }
  std::sort(check.objects.begin(), check.objects.end(),
            [](const ObservedObject& a, const ObservedObject& b) { return a.label < b.label; });
  if (role == TokenRole::kRuntime) CheckEpochKeys(check);
  CheckDuplicateLabels(check);
  return check;
}

}  // namespace simkms::kms
