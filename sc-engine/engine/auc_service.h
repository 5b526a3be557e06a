// The Authentication Centre towards the network (docs/gsup.md, docs/milenage.md):
// authentication vectors for a subscriber, computed in the token under Ki_1
// before personalization and Ki_2 after, with the SQN kept per subscriber as
// osmo-hlr keeps it (SQN = SEQ << 5 | IND; each vector takes the next SEQ) and
// on disk before the answer leaves. AUTS resynchronisation per TS 33.102.
//
// The token work and the synced SQN write are split (docs/gsup.md §8.3): a
// crypto worker computes the vectors, hands the new SQN to the store's group
// commit (Store::AdvanceCountersAsync) and goes on with the next request; the
// vectors are released to the caller only once the SQN is durable.
//
// Concurrent requests for one subscriber do not conflict: the service keeps,
// per IMSI with writes in flight, the highest SQN it has reserved, and the next
// request continues from there; its compare-and-set write names that SQN and
// is handed to the store after the earlier ones (in reservation order), so the
// store's CAS chain holds. Any write that fails, or a reservation abandoned on
// a token error, drops that chain: the later ones fail their CAS and compute
// again from the durable SQN. The store's CAS stays the guard: the durable SQN
// only moves by a write that named the value it replaced, so no two answers
// carry the same SQN (except after an AUTS, which restarts from the chip's
// SQN, as osmo-hlr does).
//
// A cluster (docs/gsup.md §9, TS 33.102 Annex C): each kmsd node serves the
// INDs of its own slice (AucOptions::ind_slice), and with sqn_block > 1 one
// write reserves a block of SEQs that the node then hands out from memory, so
// that most requests write nothing. A block is released only once durable, is
// tied to the key it was reserved under, and is dropped when the stored SQN
// went below it (an AUTS or a reset elsewhere), by the node's own AUTS, and
// when evicted (at most max_cached_blocks are kept): a dropped rest is a gap.
//
// Threading: thread-safe; each call uses the session it is given (one thread
// per session).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "kms/ki2_vault.h"
#include "kms/registry.h"
#include "kms/token_keys.h"
#include "pkcs11/session.h"
#include "sc-engine/engine/rand_pool.h"
#include "sc-engine/engine/subscriber_keys.h"
#include "sc-engine/engine/ver_cache.h"
#include "softcrypto/milenage.h"
#include "storage/store.h"

namespace simkms::sc {

struct AuthInfoRequest {
  std::string imsi;
  unsigned num_vectors = 5;  // 0 or > 5 gives 5 (GSUP maximum)
  uint8_t ind = 0;           // the requesting peer's IND (0..31)
  std::optional<kms::Auts> auts;
  std::optional<kms::Block> auts_rand;  // the RAND the chip answered with AUTS
  // The request is for E-UTRAN (GSUP CURRENT_RAT_TYPE EUTRAN_SGS): the AMF's
  // separation bit (bit 0 of its first byte's top, TS 33.401 §6.1.1) is set in the
  // vectors, and cleared otherwise, the rest of the VER's AMF as it is (osmo-hlr).
  bool eutran = false;
};

// The INDs (0..31) one node hands out: first..last. Nodes of one cluster own
// disjoint slices, so no two of them can issue the same SQN.
struct IndSlice {
  uint8_t first = 0;
  uint8_t last = 31;
  bool Contains(uint8_t ind) const { return ind >= first && ind <= last; }
  bool operator==(const IndSlice&) const = default;
};

struct AucOptions {
  IndSlice ind_slice;  // a request for an IND outside it is refused (InvalidArgument)
  // SEQ values one store write reserves (a request of n vectors takes at least
  // n). 1: a write per request before its answer leaves.
  unsigned sqn_block = 1;
  // Subscribers whose unused block rest is kept in memory, least recently used
  // evicted first (its rest becomes a gap).
  std::size_t max_cached_blocks = 100000;
};

class AucService {
 public:
  using Vectors = std::vector<kms::AuthVector>;
  // Called exactly once: on the calling worker for an error found before the
  // write, else on the store's writer thread once the SQN is durable (or the
  // write failed). The vectors hold CK/IK: the callee wipes them after use.
  using Done = std::function<void(StatusOr<Vectors>)>;
  // Runs a job later on a worker with a token session (the crypto pool): a
  // request whose SQN moved under it is computed again there, never on the
  // store's writer thread.
  using Job = std::function<void(p11::Session&)>;
  using Repost = std::function<void(Job)>;

  AucService(storage::Store& store, SubscriberKeys& keys, kms::Clock clock = kms::SystemClockMs,
             AucOptions options = {})
      : store_(store), keys_(keys), clock_(std::move(clock)), options_(options), vers_(store) {}
  // Waits until the store has settled every write this service handed it (their
  // completions use it); the store's writer must still be running.
  ~AucService();
  AucService(const AucService&) = delete;
  AucService& operator=(const AucService&) = delete;

  // InvalidArgument: request.ind is outside this node's slice.
  // NotFound: IMSI unknown (misuse 1.1, GSUP cause "IMSI unknown"); FailedPrecondition:
  // the subscriber has no usable key (LOCKED); Unauthenticated: an AUTS that does not
  // verify; a store error as the store gives it. Returns without waiting for the disk.
  void SendAuthInfoAsync(p11::Session& session, AuthInfoRequest request, Repost repost, Done done);

  // The same, waiting for the answer on the calling thread (which keeps `session`
  // and runs any recomputation on it): tools and tests.
  StatusOr<Vectors> SendAuthInfo(p11::Session& session, const AuthInfoRequest& request);

  // The SQN osmo-hlr would use after `last` for a peer with index `ind`.
  static uint64_t NextSqn(uint64_t last, uint8_t ind) { return ((last + 32) & ~uint64_t{31}) | (ind & 31u); }

  // A GSUP peer that the allowlist refused (docs/gsup.md §8.1), audited as
  // "auc.peer-refused" (actor role "network", subject its address): by its
  // source address before any name, or, with `named`, by the IPA name it
  // claimed. One commit of the audit record alone (nothing else changes); a
  // store error as the store gives it, and then nothing is recorded. The rate
  // limit is the caller's (GsupPeerGate).
  Status RecordPeerRefused(const std::string& address, const std::string& ipa_name, bool named);

  // The network reports that `imsi` failed authentication (a wrong RES, or the
  // chip refused the AUTN), from `peer` (its IPA name): audited as
  // "auc.auth-fail-report" with the subscriber's state, so that failures of a
  // personalized subscriber (a Ki_1 clone, misuse 1.2, or a chip that missed its
  // COMMIT) can be found. NotFound for an IMSI with no record (nothing
  // recorded); a store error as the store gives it (nothing recorded).
  Status RecordAuthFailReport(const std::string& imsi, const std::string& peer);

  // IMSIs with SQN writes in flight (0 when idle): tests check nothing is left behind.
  std::size_t chains_in_flight() const;
  // Subscribers whose block rest is kept in memory (0 with sqn_block 1).
  std::size_t cached_blocks() const;
  uint64_t rand_refills() const { return rands_.refills(); }  // C_GenerateRandom calls for RANDs

 private:
  struct Call;
  struct Ticket;
  struct Chain;
  struct KeyIdentity;

  void Attempt(p11::Session& session, const std::shared_ptr<Call>& call);
  // The ticket is computed (or abandoned: no update): submits every leading
  // ready ticket of its chain to the store, in reservation order.
  void Ready(const std::shared_ptr<Chain>& chain, const std::shared_ptr<Ticket>& ticket);
  void Settled(const std::shared_ptr<Chain>& chain, const std::shared_ptr<Ticket>& ticket, Status stored);
  // A ticket served from a block is computed: released once the block's write is durable.
  void ServedFromBlock(const std::shared_ptr<Ticket>& ticket);
  // Hands the vectors over if `stored` is OK, else computes again or fails.
  void Release(const std::shared_ptr<Ticket>& ticket, Status stored);
  void DropChainLocked(const std::shared_ptr<Chain>& chain);  // mu_ held
  // Keeps an idle chain with a block rest in the LRU (evicting the oldest), drops one without. mu_ held.
  void IdleLocked(const std::shared_ptr<Chain>& chain);

  storage::Store& store_;
  SubscriberKeys& keys_;
  const kms::Clock clock_;
  const AucOptions options_;
  VerCache vers_;  // one store read per request (the subscriber), not two
  RandPool rands_;  // one C_GenerateRandom per ~50 requests, not one per request
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Chain>> chains_;  // by IMSI; guarded by mu_
  std::list<std::string> idle_;  // IMSIs of idle chains with a block rest, most recent first; guarded by mu_
  uint64_t settles_ = 0;         // writes settled OK so far; guarded by mu_
  std::size_t writes_in_flight_ = 0;  // handed to the store, Settled not yet returned; guarded by mu_
  std::condition_variable settled_;    // writes_in_flight_ fell to 0
  // Held while tickets are taken from a chain and handed to the store, so that
  // the store receives them in chain order. Never taken by Settled (a store
  // that runs `done` inline must not deadlock).
  std::mutex submit_mu_;
};

}  // namespace simkms::sc
