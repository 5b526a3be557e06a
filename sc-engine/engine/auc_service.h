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
#include "sc-engine/engine/subscriber_keys.h"
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
  AucService(storage::Store& store, SubscriberKeys& keys) : store_(store), keys_(keys) {}

  // NotFound: IMSI unknown (misuse 1.1, GSUP cause "IMSI unknown"); FailedPrecondition:
  // the subscriber has no usable key (LOCKED); Unauthenticated: an AUTS that does not verify.
  StatusOr<std::vector<kms::AuthVector>> SendAuthInfo(p11::Session& session, const AuthInfoRequest& request);

  // The SQN osmo-hlr would use after `last` for a peer with index `ind`.
  static uint64_t NextSqn(uint64_t last, uint8_t ind) { return ((last + 32) & ~uint64_t{31}) | (ind & 31u); }

 private:
  storage::Store& store_;
  SubscriberKeys& keys_;
};

}  // namespace simkms::sc
