// Ki_2 storage outside the token: each Ki_2 is wrapped (CKM_AES_KEY_WRAP_PAD,
// RFC 5649) under the token-resident storage KEK and the blob kept in RocksDB;
// it is unwrapped into a session object only when needed.
//
// Why not one token object per subscriber: measured on SoftHSM 2.6.1 with 50,000
// secret-key objects, C_Initialize takes 2.1 s and 480 MB, creation runs at
// ~140 objects/s and every C_FindObjects is a ~0.9 s linear scan. Unwrapping runs
// at ~25,000/s per thread. See docs/architecture.md.
//
// Unwrapped copies are sensitive and unextractable, so even the process that
// holds the PIN cannot re-wrap them under a key of its choosing; only the
// freshly negotiated key passed to Wrap() is extractable, and only for that call.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/bytes.h"
#include "base/status.h"
#include "pkcs11/session.h"

namespace simkms::kms {

struct WrappedKi2 {
  Bytes blob;              // AES-KWP output: 24 bytes for a 16-byte key
  Bytes kcv;               // of the wrapped key (AES-CMAC)
  Bytes kek_kcv;           // of the KEK that wrapped it, so a KEK mismatch is named
  std::string mechanism;   // "AES-KWP"
};

// Template for a Ki_2 session key that Wrap() accepts: AES-128, sensitive,
// extractable, usable for AES-ECB and CMAC. Negotiation code derives into it.
p11::Attributes FreshKi2Template();

class Ki2Vault {
 public:
  Ki2Vault(CK_OBJECT_HANDLE storage_kek, Bytes kek_kcv) : kek_(storage_kek), kek_kcv_(std::move(kek_kcv)) {}

  // fresh_ki2 is an AES key (FreshKi2Template): its KCV is AES-CMAC, no type read.
  StatusOr<WrappedKi2> Wrap(p11::Session& session, CK_OBJECT_HANDLE fresh_ki2) const;
  // The unwrapped key is checked against the stored KCV before it is returned.
  StatusOr<p11::ScopedObject> Unwrap(p11::Session& session, const WrappedKi2& wrapped,
                                     std::string_view subject) const;
  const Bytes& kek_kcv() const { return kek_kcv_; }

 private:
  CK_OBJECT_HANDLE kek_;
  Bytes kek_kcv_;
};

// A bounded LRU cache of unwrapped Ki_2 handles, under a name the caller gives.
// Entries are shared: an evicted key stays alive until its last user releases
// it. Nothing is dropped by hand: the caller names each key by its id and its
// wrapped blob (sc::SubscriberKeys), so a re-keyed or terminated subscriber's
// old key is never found again under a new record, and ages out.
// A key is destroyed, when its last user lets go, on a session of the cache's
// own (opened with the first unwrap), not on the worker session that unwrapped
// it: that session belongs to whichever worker holds it now (pkcs11/session.h),
// while the last user of a key can be any thread. Session objects are visible to
// every session of the application, so any of its sessions may destroy them;
// they live as long as the session that created them, so the cache must be
// destroyed before the sessions it unwrapped in are closed. Thread-safe.
class Ki2Cache {
 public:
  using Handle = std::shared_ptr<const p11::ScopedObject>;

  Ki2Cache(const Ki2Vault& vault, std::size_t capacity) : vault_(vault), capacity_(capacity) {}

  StatusOr<Handle> Get(p11::Session& session, const std::string& key_id, const WrappedKi2& wrapped);
  // The vault it unwraps with (its KEK's KCV computed once, at start).
  const Ki2Vault& vault() const { return vault_; }
  std::size_t size() const;
  std::size_t hits() const;
  std::size_t misses() const;

 private:
  class Reaper;

  const Ki2Vault& vault_;
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::shared_ptr<Reaper> reaper_;  // guarded by mu_; shared with every handle it will destroy
  std::list<std::pair<std::string, Handle>> lru_;  // front = most recent; guarded by mu_
  std::unordered_map<std::string, std::list<std::pair<std::string, Handle>>::iterator> index_;  // guarded by mu_
  std::size_t hits_ = 0;    // guarded by mu_
  std::size_t misses_ = 0;  // guarded by mu_
};

}  // namespace simkms::kms
