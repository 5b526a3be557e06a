#include "kms/token_audit.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "kms/audit_epochs.h"
#include "kms/token_keys.h"
#include "kms/token_policy.h"

namespace simkms::kms {
namespace {

// Checkpoint object value: "SKC1" | seq (8, big-endian) | record hash (32).
constexpr uint8_t kCheckpointMagic[4] = {'S', 'K', 'C', '1'};
constexpr std::size_t kCheckpointSize = 4 + 8 + storage::kAuditHashSize;

Bytes EncodeCheckpoint(const storage::AuditCheckpoint& c) {
  Bytes out(std::begin(kCheckpointMagic), std::end(kCheckpointMagic));
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(c.seq >> (8 * i)));
  out.insert(out.end(), c.record_hash.begin(), c.record_hash.end());
  return out;
}

StatusOr<storage::AuditCheckpoint> DecodeCheckpoint(const Bytes& v) {
  if (v.size() != kCheckpointSize || !std::equal(std::begin(kCheckpointMagic), std::end(kCheckpointMagic), v.begin())) {
    return DataLossError("audit checkpoint object in the token is malformed");
  }
  storage::AuditCheckpoint c;
  for (int i = 0; i < 8; ++i) c.seq = (c.seq << 8) | v[4 + i];
  c.record_hash.assign(v.begin() + 12, v.end());
  return c;
}

}  // namespace

namespace {

struct EpochKey {
  uint64_t epoch = 0;
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
};

// Every epoch key on the token, ascending by epoch.
StatusOr<std::vector<EpochKey>> FindEpochKeys(p11::Session& session) {
  p11::Attributes query;
  query.Ulong(CKA_CLASS, CKO_SECRET_KEY).Text(CKA_LABEL, labels::kAuditEpochKey);
  SIMKMS_ASSIGN_OR_RETURN(auto found, session.FindAll(query));
  std::vector<EpochKey> keys;
  for (CK_OBJECT_HANDLE h : found) {
    SIMKMS_ASSIGN_OR_RETURN(Bytes id, session.GetAttribute(h, CKA_ID, "audit epoch key id"));
    if (id.size() != 8) return DataLossError("audit epoch key has a malformed CKA_ID");
    uint64_t epoch = 0;
    for (uint8_t b : id) epoch = (epoch << 8) | b;
    keys.push_back({epoch, h});
  }
  std::sort(keys.begin(), keys.end(), [](const EpochKey& a, const EpochKey& b) { return a.epoch < b.epoch; });
  return keys;
}

}  // namespace

StatusOr<std::unique_ptr<TokenAuditMac>> TokenAuditMac::Open(std::shared_ptr<p11::Module> module, CK_SLOT_ID slot) {
  SIMKMS_ASSIGN_OR_RETURN(p11::Session session, p11::Session::Open(std::move(module), slot));
  SIMKMS_ASSIGN_OR_RETURN(std::vector<EpochKey> keys, FindEpochKeys(session));
  if (keys.empty()) {
    return NotFoundError(std::string("token has no ") + labels::kAuditEpochKey +
                         " key (run kmsctl init first; a token from before audit epochs needs a fresh ceremony)");
  }
  // The newest: an older one left by a crash inside CloseEpoch is destroyed when the
  // Store finishes that close (it calls CloseEpoch again).
  const EpochKey current = keys.back();
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject mac_key, DeriveAuditMacKey(session, current.handle, current.epoch));
  return std::unique_ptr<TokenAuditMac>(
      new TokenAuditMac(std::move(session), current.epoch, current.handle, std::move(mac_key)));
}

StatusOr<uint64_t> TokenAuditMac::CurrentEpoch() {
  std::lock_guard lock(mu_);
  return epoch_;
}

StatusOr<Bytes> TokenAuditMac::Compute(ByteView data) {
  std::lock_guard lock(mu_);
  return session_.Sign({CKM_SHA256_HMAC, nullptr, 0}, mac_key_.get(), data, "audit HMAC");
}

Status TokenAuditMac::Verify(ByteView data, ByteView mac) {
  std::lock_guard lock(mu_);
  Status s = session_.Verify({CKM_SHA256_HMAC, nullptr, 0}, mac_key_.get(), data, mac, "audit HMAC");
  // A MAC of the wrong length is a bad record, not a failure to check.
  if (!s.ok() && s.message().find("CKR_SIGNATURE_LEN_RANGE") != std::string::npos) {
    return UnauthenticatedError("audit MAC has the wrong length");
  }
  return s;
}

Status TokenAuditMac::VerifyInEpoch(uint64_t epoch, bool chain_start, ByteView data, ByteView mac) {
  (void)chain_start;  // the token cannot tell a seed's start from a later key
  uint64_t current = 0;
  {
    std::lock_guard lock(mu_);
    current = epoch_;
  }
  if (epoch < current) {
    return FailedPreconditionError("the token's key of audit epoch " + std::to_string(epoch) +
                                   " was destroyed when the epoch closed");
  }
  if (epoch > current) {
    return UnauthenticatedError("record claims audit epoch " + std::to_string(epoch) + ", ahead of the token's " +
                                std::to_string(current));
  }
  return Verify(data, mac);
}

// Idempotent: from "only E_e" (derive E_{e+1}, destroy E_e), "E_e and E_{e+1}" (a crash
// between the two: destroy E_e) or "only E_{e+1}" (nothing to do).
Status TokenAuditMac::CloseEpoch(uint64_t epoch) {
  std::lock_guard lock(mu_);
  const std::string ctx = "close audit epoch " + std::to_string(epoch);
  SIMKMS_ASSIGN_OR_RETURN(std::vector<EpochKey> keys, FindEpochKeys(session_));
  if (keys.empty()) return FailedPreconditionError(ctx + ": the token holds no audit epoch key");
  const EpochKey newest = keys.back();
  if (newest.epoch < epoch) {
    return FailedPreconditionError(ctx + ": the token's audit key is in epoch " + std::to_string(newest.epoch));
  }
  CK_OBJECT_HANDLE next = newest.handle;
  if (newest.epoch == epoch) {
    Bytes data = AuditEpochDerivationData("NEXT", epoch);
    CK_KEY_DERIVATION_STRING_DATA params{data.data(), static_cast<CK_ULONG>(data.size())};
    p11::Attributes a = AuditEpochKeyTemplate(epoch + 1);
    SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject made,
                            session_.DeriveKey({CKM_AES_ECB_ENCRYPT_DATA, &params, sizeof params}, newest.handle, a,
                                               ctx + ": derive the next epoch key"));
    next = made.Release();
  }
  const uint64_t next_epoch = std::max(newest.epoch, epoch + 1);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject mac_key, DeriveAuditMacKey(session_, next, next_epoch));
  for (const EpochKey& k : keys) {
    if (k.epoch <= epoch) SIMKMS_RETURN_IF_ERROR(session_.DestroyObject(k.handle, ctx + ": destroy the old key"));
  }
  epoch_ = next_epoch;
  epoch_key_ = next;
  mac_key_ = std::move(mac_key);
  return OkStatus();
}

StatusOr<std::unique_ptr<TokenCheckpointStore>> TokenCheckpointStore::Open(std::shared_ptr<p11::Module> module,
                                                                           CK_SLOT_ID slot) {
  SIMKMS_ASSIGN_OR_RETURN(p11::Session session, p11::Session::Open(std::move(module), slot));
  return std::unique_ptr<TokenCheckpointStore>(new TokenCheckpointStore(std::move(session)));
}

namespace {

// The checkpoint is kept in one of two forms, both private token objects labelled
// labels::kAuditHead: a data object whose CKA_VALUE is the encoding (SoftHSM, most
// HSMs), or, on a token that keeps no private token data objects (NSS's softoken
// refuses CKO_DATA with CKA_TOKEN or CKA_PRIVATE: CKR_ATTRIBUTE_VALUE_INVALID), a
// generic secret key of no use, sensitive and unextractable like every persistent
// key, whose CKA_ID is the encoding. Either needs the user PIN to create, as before;
// the key form's random value is never used.
struct CheckpointObject {
  CK_OBJECT_HANDLE handle;
  CK_ATTRIBUTE_TYPE holder;  // CKA_VALUE of a data object, CKA_ID of a key
};

StatusOr<std::vector<CheckpointObject>> CheckpointObjects(p11::Session& session) {
  std::vector<CheckpointObject> out;
  for (const auto& [object_class, holder] : {std::pair{CKO_DATA, CKA_VALUE}, std::pair{CKO_SECRET_KEY, CKA_ID}}) {
    p11::Attributes query;
    // Private objects only: anyone can create a public object without the PIN, and
    // one posing as the checkpoint must not be believed (issue 10). The start-up
    // token check (kms/token_policy.h) reports such an object.
    query.Ulong(CKA_CLASS, object_class).Text(CKA_LABEL, labels::kAuditHead).Bool(CKA_PRIVATE, true);
    SIMKMS_ASSIGN_OR_RETURN(auto found, session.FindAll(query));
    for (CK_OBJECT_HANDLE h : found) out.push_back({h, holder});
  }
  return out;
}

// The token policy's entry for the key form (kms/token_policy.cc).
const ObjectPolicy& CheckpointKeyPolicy() {
  for (const ObjectPolicy& p : TokenPolicy()) {
    if (p.object_class == CKO_SECRET_KEY && p.label == labels::kAuditHead) return p;
  }
  std::abort();  // the policy table lost the entry: a programming error
}

StatusOr<p11::ScopedObject> CreateCheckpointKey(p11::Session& session, const Bytes& encoded) {
  p11::Attributes a = PersistentKeyTemplate(CheckpointKeyPolicy(), labels::kAuditHead, 16, encoded);
  return session.GenerateKey({CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0}, a, "audit checkpoint (key form)");
}

}  // namespace

// SoftHSM 2.6 refuses to change CKA_VALUE of a data object (CKR_ATTRIBUTE_READ_ONLY),
// so each write creates a new object and then destroys the older ones. A crash in
// between leaves two objects; Read takes the one with the highest sequence number,
// so the checkpoint is never lost or rolled back.
StatusOr<std::optional<storage::AuditCheckpoint>> TokenCheckpointStore::Read() {
  std::lock_guard lock(mu_);
  SIMKMS_ASSIGN_OR_RETURN(auto objects, CheckpointObjects(session_));
  std::optional<storage::AuditCheckpoint> newest;
  for (const CheckpointObject& object : objects) {
    SIMKMS_ASSIGN_OR_RETURN(Bytes value, session_.GetAttribute(object.handle, object.holder, "audit checkpoint"));
    SIMKMS_ASSIGN_OR_RETURN(storage::AuditCheckpoint c, DecodeCheckpoint(value));
    if (!newest || c.seq > newest->seq) newest = std::move(c);
  }
  return newest;
}

Status TokenCheckpointStore::Write(const storage::AuditCheckpoint& checkpoint) {
  if (checkpoint.record_hash.size() != storage::kAuditHashSize) {
    return InvalidArgumentError("audit checkpoint hash must be 32 bytes");
  }
  std::lock_guard lock(mu_);
  std::vector<CK_OBJECT_HANDLE> older;
  const bool known = last_written_.has_value();
  if (known) {
    older.push_back(*last_written_);
  } else {
    SIMKMS_ASSIGN_OR_RETURN(auto found, CheckpointObjects(session_));
    for (const CheckpointObject& o : found) older.push_back(o.handle);
  }
  last_written_.reset();
  const Bytes encoded = EncodeCheckpoint(checkpoint);
  StatusOr<p11::ScopedObject> created = InvalidArgumentError("not yet created");
  if (!checkpoint_in_key_id_) {
    p11::Attributes a;
    a.Ulong(CKA_CLASS, CKO_DATA)
        .Text(CKA_LABEL, labels::kAuditHead)
        .Text(CKA_APPLICATION, "simkms")
        .Bool(CKA_TOKEN, true)
        .Bool(CKA_PRIVATE, true)
        .Blob(CKA_VALUE, encoded);
    created = session_.CreateObject(a, "audit checkpoint");
    // A template the token finds invalid for a private token data object: it keeps
    // none (NSS's softoken); from now on the key form.
    checkpoint_in_key_id_ = !created.ok() && created.status().code() == StatusCode::kInvalidArgument;
  }
  if (checkpoint_in_key_id_) created = CreateCheckpointKey(session_, encoded);
  if (!created.ok()) return created.status();
  const CK_OBJECT_HANDLE created_handle = created->Release();
  for (CK_OBJECT_HANDLE object : older) {
    Status destroyed = session_.DestroyObject(object, "previous audit checkpoint");
    if (destroyed.ok()) continue;
    if (!known) return destroyed;
    // The remembered object is gone (changed behind our back): search and clean up.
    SIMKMS_ASSIGN_OR_RETURN(auto found, CheckpointObjects(session_));
    for (const CheckpointObject& other : found) {
      if (other.handle != created_handle) {
        SIMKMS_RETURN_IF_ERROR(session_.DestroyObject(other.handle, "previous audit checkpoint"));
      }
    }
  }
  last_written_ = created_handle;
  return OkStatus();
}

}  // namespace simkms::kms
