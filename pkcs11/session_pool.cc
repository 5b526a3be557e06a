#include "pkcs11/session_pool.h"

namespace simkms::p11 {

StatusOr<std::unique_ptr<SessionPool>> SessionPool::Create(std::shared_ptr<Module> module, CK_SLOT_ID slot,
                                                           const SecretBytes& user_pin, std::size_t size) {
  if (size == 0) return InvalidArgumentError("session pool size must be at least 1");
  std::unique_ptr<SessionPool> pool(new SessionPool());
  pool->sessions_.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    SIMKMS_ASSIGN_OR_RETURN(Session s, Session::Open(module, slot));
    pool->sessions_.push_back(std::move(s));
    pool->free_.push_back(i);
  }
  SIMKMS_RETURN_IF_ERROR(pool->sessions_.front().Login(CKU_USER, user_pin));
  return pool;
}

SessionPool::~SessionPool() {
  if (!sessions_.empty()) sessions_.front().Logout().IgnoreError();  // closing sessions logs out anyway
}

SessionPool::Lease SessionPool::Acquire() {
  std::unique_lock lock(mu_);
  available_.wait(lock, [this] { return !free_.empty(); });
  std::size_t index = free_.back();
  free_.pop_back();
  return Lease(this, index);
}

void SessionPool::Return(std::size_t index) {
  {
    std::lock_guard lock(mu_);
    free_.push_back(index);
  }
  available_.notify_one();
}

SessionPool::Lease::~Lease() {
  if (pool_ != nullptr) pool_->Return(index_);
}

Session& SessionPool::Lease::operator*() const { return pool_->sessions_[index_]; }
Session* SessionPool::Lease::operator->() const { return &pool_->sessions_[index_]; }

}  // namespace simkms::p11
