#include "sc-engine/engine/subscriber_keys.h"

#include "kms/auc_vectors.h"
#include "kms/ki1.h"
#include "kms/registry.h"
#include "policy/lifecycle.h"

namespace simkms::sc {
namespace {

// The Ki_1 cache's name of a subscription's Ki_1 (see subscriber_keys.h).
std::string Ki1Name(const storage::SubscriberRecord& subscriber) {
  return subscriber.imsi + "#" + std::to_string(subscriber.ver) + "#" + std::to_string(subscriber.created_at);
}

}  // namespace

StatusOr<SecretBytes> SubscriberKeys::VerOp(p11::Session& session, const storage::VerRecord& ver) {
  {
    std::lock_guard lock(mu_);
    if (auto it = op_by_ver_.find(ver.ver); it != op_by_ver_.end()) return it->second;
  }
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes op, kms::OpenVerOp(session, keys_, ver.ver, ver.op_ciphertext));
  std::lock_guard lock(mu_);
  op_by_ver_.emplace(ver.ver, op);
  return op;
}

StatusOr<kms::KeyCache::Handle> SubscriberKeys::Ki1(p11::Session& session,
                                                    const storage::SubscriberRecord& subscriber,
                                                    const storage::VerRecord& ver) {
  if (policy::AuthVectorKey(subscriber.state) == policy::AuthKey::kKi1) {
    return ki1_cache_.Get(session, Ki1Name(subscriber), [&] { return DeriveKi1(session, subscriber, ver); });
  }
  ForgetKi1(subscriber);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject retired, DeriveKi1(session, subscriber, ver));
  return std::make_shared<const p11::ScopedObject>(std::move(retired));  // destroyed with the caller's handle
}

void SubscriberKeys::ForgetKi1(const storage::SubscriberRecord& subscriber) { ki1_cache_.Forget(Ki1Name(subscriber)); }

StatusOr<p11::ScopedObject> SubscriberKeys::DeriveKi1(p11::Session& session,
                                                      const storage::SubscriberRecord& subscriber,
                                                      const storage::VerRecord& ver) {
  const kms::Profile profile = kms::FromStorage(ver.profile);
  {
    std::unique_lock lock(mu_);
    auto it = k1_by_ver_.find(subscriber.ver);
    if (it != k1_by_ver_.end()) {
      const CK_OBJECT_HANDLE cached = it->second;
      lock.unlock();
      auto ki1 = kms::DeriveKi1(session, cached, profile, subscriber.imsi);
      if (ki1.ok()) return ki1;
      // The object may be gone (VER removed, token re-initialised): look it up again.
      lock.lock();
      if (auto again = k1_by_ver_.find(subscriber.ver); again != k1_by_ver_.end() && again->second == cached) {
        k1_by_ver_.erase(again);
      }
    }
  }
  SIMKMS_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE k1, kms::FindK1(session, subscriber.ver));
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject ki1, kms::DeriveKi1(session, k1, profile, subscriber.imsi));
  std::lock_guard lock(mu_);
  k1_by_ver_[subscriber.ver] = k1;
  return ki1;
}

StatusOr<kms::KeyCache::Handle> SubscriberKeys::Ki2(p11::Session& session,
                                                    const storage::SubscriberRecord& subscriber,
                                                    const std::string& key_id) {
  SIMKMS_ASSIGN_OR_RETURN(storage::WrappedKeyRecord blob, store_.GetWrappedKey(key_id));
  if (key_id == subscriber.ki2_key_id && !ConstantTimeEquals(blob.kcv, subscriber.ki2_kcv)) {
    return DataLossError("Ki_2 blob " + key_id + " has KCV " + ToHex(blob.kcv) + ", subscriber " + subscriber.imsi +
                         " names " + ToHex(subscriber.ki2_kcv));
  }
  // Key ids restart at generation 1 when a terminated IMSI is contracted again,
  // so the id alone could find the previous subscription's Ki_2 in the cache:
  // the cache entry is named by the id and the wrapped blob (unique per key).
  const std::string name = blob.key_id + "#" + ToHex(blob.blob);
  return ki2_cache_.Get(session, name, [&] {
    return vault_.Unwrap(session, {blob.blob, blob.kcv, blob.kek_kcv, blob.mechanism}, name);
  });
}

}  // namespace simkms::sc
