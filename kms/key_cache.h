// A bounded LRU cache of a subscriber's keys as token session objects, under a
// name the caller gives: the unwrapped Ki_2s (kms/ki2_vault.h) and the derived
// Ki_1s (kms/ki1.h) of kmsd, one instance each (sc::SubscriberKeys). Nothing is
// persisted: an entry is a session object's handle, gone with the process.
//
// Entries are shared: an evicted key stays alive until its last user releases
// it. The caller names each key by what determines its value and by the
// subscription it serves (sc::SubscriberKeys), so a re-keyed, terminated or
// re-contracted subscriber's old key is never found again under a new record and
// ages out; Forget drops an entry at once where the caller learns that its
// subscriber no longer uses it.
// A key is destroyed, when its last user lets go, on a session of the cache's
// own (opened with the first key kept), not on the worker session that made
// it: that session belongs to whichever worker holds it now (pkcs11/session.h),
// while the last user of a key can be any thread. Session objects are visible to
// every session of the application, so any of its sessions may destroy them;
// they live as long as the session that created them, so the cache must be
// destroyed before the sessions it made keys in are closed. Thread-safe.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/status.h"
#include "pkcs11/session.h"

namespace simkms::kms {

class KeyCache {
 public:
  using Handle = std::shared_ptr<const p11::ScopedObject>;

  explicit KeyCache(std::size_t capacity) : capacity_(capacity) {}

  // The key named `name`: from the cache, or made by `make` (a callable returning
  // StatusOr<p11::ScopedObject>, run outside the cache's lock on `session`) and kept.
  template <typename Make>
  StatusOr<Handle> Get(p11::Session& session, const std::string& name, Make&& make) {
    if (Handle cached = Find(name)) return cached;
    SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject key, make());
    return Keep(session, name, std::move(key));
  }
  // Drops the entry `name`, if any (its users keep their handles).
  void Forget(const std::string& name);

  std::size_t size() const;
  std::size_t hits() const;
  std::size_t misses() const;
  std::size_t forgotten() const;  // entries dropped by Forget

 private:
  class Reaper;

  Handle Find(const std::string& name);  // counts a hit or a miss
  StatusOr<Handle> Keep(p11::Session& session, const std::string& name, p11::ScopedObject key);

  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::shared_ptr<Reaper> reaper_;  // guarded by mu_; shared with every handle it will destroy
  std::list<std::pair<std::string, Handle>> lru_;  // front = most recent; guarded by mu_
  std::unordered_map<std::string, std::list<std::pair<std::string, Handle>>::iterator> index_;  // guarded by mu_
  std::size_t hits_ = 0;       // guarded by mu_
  std::size_t misses_ = 0;     // guarded by mu_
  std::size_t forgotten_ = 0;  // guarded by mu_
};

}  // namespace simkms::kms
