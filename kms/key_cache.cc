#include "kms/key_cache.h"

namespace simkms::kms {

// Destroys the cache's keys when their last user lets go, on its own session
// under its own lock, whatever thread that user runs on.
class KeyCache::Reaper {
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

KeyCache::Handle KeyCache::Find(const std::string& name) {
  std::lock_guard lock(mu_);
  if (auto it = index_.find(name); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    ++hits_;
    return it->second->second;
  }
  ++misses_;
  return nullptr;
}

StatusOr<KeyCache::Handle> KeyCache::Keep(p11::Session& session, const std::string& name, p11::ScopedObject key) {
  std::lock_guard lock(mu_);
  if (auto it = index_.find(name); it != index_.end()) return it->second->second;  // another thread won
  if (capacity_ == 0) return std::make_shared<const p11::ScopedObject>(std::move(key));  // used and gone here
  if (reaper_ == nullptr) {
    auto own = p11::Session::Open(session.module(), session.slot(), /*read_write=*/false);
    if (!own.ok()) return own.status().WithContext("key cache: a session to destroy evicted keys on");
    reaper_ = std::make_shared<Reaper>(std::move(*own));
  }
  Handle handle = reaper_->Adopt(std::move(key), reaper_);
  lru_.emplace_front(name, handle);
  index_[name] = lru_.begin();
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return handle;
}

void KeyCache::Forget(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = index_.find(name);
  if (it == index_.end()) return;
  lru_.erase(it->second);
  index_.erase(it);
  ++forgotten_;
}

std::size_t KeyCache::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}
std::size_t KeyCache::hits() const {
  std::lock_guard lock(mu_);
  return hits_;
}
std::size_t KeyCache::misses() const {
  std::lock_guard lock(mu_);
  return misses_;
}
std::size_t KeyCache::forgotten() const {
  std::lock_guard lock(mu_);
  return forgotten_;
}

}  // namespace simkms::kms
