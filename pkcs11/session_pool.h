// A fixed set of logged-in sessions on one token, leased one at a time. Crypto
// workers each lease a session for the duration of an operation; Acquire blocks
// while all are in use.
//
// The pool holds the login (C_Login on creation, C_Logout when destroyed).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "pkcs11/session.h"

namespace simkms::p11 {

class SessionPool {
 public:
  class Lease {
   public:
    Lease(Lease&& o) noexcept : pool_(o.pool_), index_(o.index_) { o.pool_ = nullptr; }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Session& operator*() const;
    Session* operator->() const;

   private:
    friend class SessionPool;
    Lease(SessionPool* pool, std::size_t index) : pool_(pool), index_(index) {}
    SessionPool* pool_;
    std::size_t index_;
  };

  // Opens `size` R/W sessions and logs in as the user.
  static StatusOr<std::unique_ptr<SessionPool>> Create(std::shared_ptr<Module> module, CK_SLOT_ID slot,
                                                       const SecretBytes& user_pin, std::size_t size);
  ~SessionPool();

  Lease Acquire();
  std::size_t size() const { return sessions_.size(); }

 private:
  SessionPool() = default;
  void Return(std::size_t index);

  std::vector<Session> sessions_;
  std::mutex mu_;
  std::condition_variable available_;
  std::vector<std::size_t> free_;  // guarded by mu_
};

}  // namespace simkms::p11
