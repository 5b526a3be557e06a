// The keys a subscriber's requests need, shared by the AuC and the chip channel:
// the VER's Milenage OP (unsealed once per VER and kept), Ki_1 and Ki_2 as token
// session objects kept in two bounded caches of the same kind (kms/key_cache.h).
// Ki_2 is refused unless its KCV is the one the subscriber record names (a blob
// moved between records does not authenticate anyone). Thread-safe.
//
// What a cache entry is named by decides when it stops being found:
// - Ki_2: its key id and wrapped blob. A re-key makes a new key id; a terminated
//   and re-contracted IMSI restarts key ids at generation 1, but its blob is new.
// - Ki_1: IMSI, VER and the subscription's created_at. Its value is a function of
//   the VER's K1 and the IMSI only; the subscription in the name keeps a re-contracted
//   IMSI (possibly into another VER) from an entry of the terminated one.
// Ki_1 is cached only while it is the subscriber's current key (CONTRACTED): once
// a record shows another state -- personalized by a first call, re-key pending,
// terminated, locked -- its entry is forgotten (ForgetKi1) and a Ki_1 still needed
// (the chip channel checks a clone's packets under the retired Ki_1) is derived
// for that packet and destroyed after it. The state is read, MAC-checked, from the
// subscriber's record on every request, so no request of a subscriber in another
// state is ever served under a cached Ki_1.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "kms/key_cache.h"
#include "kms/ki2_vault.h"
#include "kms/token_keys.h"
#include "pkcs11/session.h"
#include "storage/store.h"

namespace simkms::sc {

class SubscriberKeys {
 public:
  SubscriberKeys(const kms::ServiceKeys& keys, storage::Store& store, const kms::Ki2Vault& vault,
                 kms::KeyCache& ki1_cache, kms::KeyCache& ki2_cache)
      : keys_(keys), store_(store), vault_(vault), ki1_cache_(ki1_cache), ki2_cache_(ki2_cache) {}

  StatusOr<SecretBytes> VerOp(p11::Session& session, const storage::VerRecord& ver);
  // The subscriber's Ki_1: cached while CONTRACTED, else derived for this caller alone.
  StatusOr<kms::KeyCache::Handle> Ki1(p11::Session& session, const storage::SubscriberRecord& subscriber,
                                      const storage::VerRecord& ver);
  // Drops the subscriber's cached Ki_1: for a record that no longer uses it.
  void ForgetKi1(const storage::SubscriberRecord& subscriber);
  // The blob `key_id` of this subscriber (its current or previous Ki_2). For the
  // current one the KCV must equal subscriber.ki2_kcv.
  StatusOr<kms::KeyCache::Handle> Ki2(p11::Session& session, const storage::SubscriberRecord& subscriber,
                                      const std::string& key_id);
  // Wraps a fresh Ki_2 under the storage KEK, with the KEK's KCV the vault
  // computed once rather than again (two token calls) for every new key.
  const kms::Ki2Vault& vault() const { return vault_; }

 private:
  StatusOr<p11::ScopedObject> DeriveKi1(p11::Session& session, const storage::SubscriberRecord& subscriber,
                                        const storage::VerRecord& ver);

  const kms::ServiceKeys& keys_;
  storage::Store& store_;
  const kms::Ki2Vault& vault_;
  kms::KeyCache& ki1_cache_;
  kms::KeyCache& ki2_cache_;
  std::mutex mu_;
  std::map<uint32_t, SecretBytes> op_by_ver_;  // guarded by mu_
  // K1 handles by VER: finding a token object by label is a scan of every token
  // object on SoftHSM (40% of the chip channel's time, docs/performance.md), and
  // token object handles are valid in every session of the process.
  std::map<uint32_t, CK_OBJECT_HANDLE> k1_by_ver_;  // guarded by mu_
};

}  // namespace simkms::sc
