// The Authentication Centre towards the network (MISSION.md lifecycle step 4):
// authentication vectors for a subscriber, computed in the token under Ki_1
// before personalization and Ki_2 after, with the SQN kept per subscriber as
// osmo-hlr keeps it (SQN = SEQ << 5 | IND; each vector takes the next SEQ) and
// on disk before the answer leaves. AUTS resynchronisation per TS 33.102.
//
// Threading: thread-safe; each call uses the session it is given (one thread
// per session).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "kms/ki2_vault.h"
#include "kms/milenage.h"
#include "kms/token_keys.h"
#include "pkcs11/session.h"
#include "storage/store.h"

namespace simkms::sc {

struct AuthInfoRequest {
  std::string imsi;
  unsigned num_vectors = 5;  // 0 or > 5 gives 5 (GSUP maximum)
  uint8_t ind = 0;           // the requesting peer's IND (0..31)
  std::optional<kms::Auts> auts;
  std::optional<kms::Block> auts_rand;  // the RAND the chip answered with AUTS
};

class AucService {
 public:
  AucService(const kms::ServiceKeys& keys, storage::Store& store, kms::Ki2Cache& ki2_cache)
      : keys_(keys), store_(store), ki2_cache_(ki2_cache) {}

  // NotFound: IMSI unknown (misuse 1.1, GSUP cause "IMSI unknown"); FailedPrecondition:
  // the subscriber has no usable key (LOCKED); Unauthenticated: an AUTS that does not verify.
  StatusOr<std::vector<kms::AuthVector>> SendAuthInfo(p11::Session& session, const AuthInfoRequest& request);

  // The SQN osmo-hlr would use after `last` for a peer with index `ind`.
  static uint64_t NextSqn(uint64_t last, uint8_t ind) { return ((last + 32) & ~uint64_t{31}) | (ind & 31u); }

 private:
  StatusOr<SecretBytes> VerOp(p11::Session& session, const storage::VerRecord& ver);

  const kms::ServiceKeys& keys_;
  storage::Store& store_;
  kms::Ki2Cache& ki2_cache_;
  std::mutex op_mu_;
  std::map<uint32_t, SecretBytes> op_by_ver_;  // guarded by op_mu_: unsealed OPs, one per VER
};

}  // namespace simkms::sc
