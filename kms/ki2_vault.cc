#include "kms/ki2_vault.h"

#include "kms/kcv.h"
#include "kms/token_policy.h"

namespace simkms::kms {

p11::Attributes FreshKi2Template() {
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Ulong(CKA_VALUE_LEN, 16)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, true);  // for the one wrap under the storage KEK
  SetUsage(a, kEncrypt | kSign);
  return a;
}

StatusOr<WrappedKi2> Ki2Vault::Wrap(p11::Session& session, CK_OBJECT_HANDLE fresh_ki2) const {
  WrappedKi2 out;
  SIMKMS_ASSIGN_OR_RETURN(out.kcv, TokenKcvOfType(session, fresh_ki2, CKK_AES, "Ki_2"));
  SIMKMS_ASSIGN_OR_RETURN(out.blob,
                          session.WrapKey({CKM_AES_KEY_WRAP_PAD, nullptr, 0}, kek_, fresh_ki2, "Ki_2 under storage KEK"));
  out.kek_kcv = kek_kcv_;
  out.mechanism = "AES-KWP";
  return out;
}

StatusOr<p11::ScopedObject> Ki2Vault::Unwrap(p11::Session& session, const WrappedKi2& wrapped,
                                             std::string_view subject) const {
  if (wrapped.mechanism != "AES-KWP") {
    return DataLossError("Ki_2 of " + std::string(subject) + " uses unknown wrap mechanism " + wrapped.mechanism);
  }
  if (!ConstantTimeEquals(wrapped.kek_kcv, kek_kcv_)) {
    return FailedPreconditionError("Ki_2 of " + std::string(subject) + " was wrapped under KEK " +
                                   ToHex(wrapped.kek_kcv) + ", token has " + ToHex(kek_kcv_));
  }
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false);
  SetUsage(a, kEncrypt | kSign | kDerive);  // Milenage, KCV, a re-key's OTA keys
  auto key = session.UnwrapKey({CKM_AES_KEY_WRAP_PAD, nullptr, 0}, kek_, wrapped.blob, a, "Ki_2");
  if (!key.ok()) return key.status().WithContext("unwrap Ki_2 of " + std::string(subject));
  SIMKMS_ASSIGN_OR_RETURN(Bytes kcv, TokenKcvOfType(session, key->get(), CKK_AES, "unwrapped Ki_2"));
  if (!ConstantTimeEquals(kcv, wrapped.kcv)) {
    return DataLossError("unwrapped Ki_2 of " + std::string(subject) + " has KCV " + ToHex(kcv) + ", record says " +
                         ToHex(wrapped.kcv));
  }
  return key;
}

// Destroys the cache's keys when their last user lets go, on its own session
// under its own lock, whatever thread that user runs on.
class Ki2Cache::Reaper {
 public:
  explicit Reaper(p11::Session session) : session_(std::move(session)) {}

  Handle Adopt(p11::ScopedObject key, std::shared_ptr<Reaper> self) {
    const CK_OBJECT_HANDLE h = key.Release();
    return Handle(new p11::ScopedObject(session_.functions(), session_.handle(), h),
                  [self = std::move(self)](const p11::ScopedObject* object) {
                    std::lock_guard lock(self->mu_);
                    delete object;  // C_DestroyObject on the reaper's session
                  });
  }

 private:
  std::mutex mu_;
  p11::Session session_;
};

StatusOr<Ki2Cache::Handle> Ki2Cache::Get(p11::Session& session, const std::string& key_id,
                                         const WrappedKi2& wrapped) {
  {
    std::lock_guard lock(mu_);
    if (auto it = index_.find(key_id); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      ++hits_;
      return it->second->second;
    }
    ++misses_;
  }
  // Unwrap outside the lock: token calls are the slow part.
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject key, vault_.Unwrap(session, wrapped, key_id));
  std::lock_guard lock(mu_);
  if (auto it = index_.find(key_id); it != index_.end()) return it->second->second;  // another thread won
  if (capacity_ == 0) return std::make_shared<const p11::ScopedObject>(std::move(key));  // used and gone here
  if (reaper_ == nullptr) {
    auto own = p11::Session::Open(session.module(), session.slot(), /*read_write=*/false);
    if (!own.ok()) return own.status().WithContext("Ki_2 cache: a session to destroy evicted keys on");
    reaper_ = std::make_shared<Reaper>(std::move(*own));
  }
  Handle handle = reaper_->Adopt(std::move(key), reaper_);
  lru_.emplace_front(key_id, handle);
  index_[key_id] = lru_.begin();
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return handle;
}

std::size_t Ki2Cache::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}
std::size_t Ki2Cache::hits() const {
  std::lock_guard lock(mu_);
  return hits_;
}
std::size_t Ki2Cache::misses() const {
  std::lock_guard lock(mu_);
  return misses_;
}

}  // namespace simkms::kms
