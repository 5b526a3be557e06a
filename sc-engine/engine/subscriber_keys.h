// The keys a subscriber's requests need, shared by the AuC and the chip channel:
// the VER's Milenage OP (unsealed once per VER and kept), Ki_1 derived on demand,
// and Ki_2 from the LRU cache of unwrapped handles, refused unless its KCV is
// the one the subscriber record names (a blob moved between records does not
// authenticate anyone). Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "kms/ki2_vault.h"
#include "kms/token_keys.h"
#include "pkcs11/session.h"
#include "storage/store.h"

namespace simkms::sc {

class SubscriberKeys {
 public:
  SubscriberKeys(const kms::ServiceKeys& keys, storage::Store& store, kms::Ki2Cache& ki2_cache)
      : keys_(keys), store_(store), ki2_cache_(ki2_cache) {}

  StatusOr<SecretBytes> VerOp(p11::Session& session, const storage::VerRecord& ver);
  StatusOr<p11::ScopedObject> Ki1(p11::Session& session, const storage::SubscriberRecord& subscriber,
                                  const storage::VerRecord& ver);
  // The blob `key_id` of this subscriber (its current or previous Ki_2). For the
  // current one the KCV must equal subscriber.ki2_kcv.
  StatusOr<kms::Ki2Cache::Handle> Ki2(p11::Session& session, const storage::SubscriberRecord& subscriber,
                                      const std::string& key_id);
  // Wraps a fresh Ki_2 under the storage KEK, with the KEK's KCV the vault
  // computed once rather than again (two token calls) for every new key.
  const kms::Ki2Vault& vault() const { return ki2_cache_.vault(); }

 private:
  const kms::ServiceKeys& keys_;
  storage::Store& store_;
  kms::Ki2Cache& ki2_cache_;
  std::mutex mu_;
  std::map<uint32_t, SecretBytes> op_by_ver_;  // guarded by mu_
  // K1 handles by VER: finding a token object by label is a scan of every token
  // object on SoftHSM (40% of the chip channel's time, docs/performance.md), and
  // token object handles are valid in every session of the process.
  std::map<uint32_t, CK_OBJECT_HANDLE> k1_by_ver_;  // guarded by mu_
};

}  // namespace simkms::sc
