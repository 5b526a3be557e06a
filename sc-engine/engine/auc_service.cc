#include "sc-engine/engine/auc_service.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include "base/wiped_buffer.h"
#include "kms/auc_vectors.h"
#include "kms/registry.h"
#include "policy/lifecycle.h"

namespace simkms::sc {
namespace {

// Attempts per request when the SQN moved under it (another writer of the
// subscriber's counters: an earlier write of a dropped chain, the chip
// channel's OTA counters, a concurrent resync). Each attempt reads the record
// again, so only a subscriber hammered from several sides runs out of them.
constexpr int kMaxAttempts = 8;

// Of two SQNs, the one with the higher SEQ (the IND bits do not count).
uint64_t HigherSeq(uint64_t a, uint64_t b) { return (b >> 5) > (a >> 5) ? b : a; }

}  // namespace

struct AucService::Call {
  AuthInfoRequest request;
  Repost repost;
  Done done;
  int attempt = 0;
};

// The key a block's SEQs belong to, and the record it was reserved from: a
// re-key (a new Ki_2, SQN restarted at 0), a first call (Ki_1 -> Ki_2) or a
// terminated and re-contracted subscriber each make another identity.
struct AucService::KeyIdentity {
  policy::AuthKey which = policy::AuthKey::kNone;
  std::string ki2_key_id;
  std::string iccid;
  uint32_t ver = 0;
  int64_t created_at = 0;
  bool operator==(const KeyIdentity&) const = default;

  static KeyIdentity Of(const storage::SubscriberRecord& r) {
    return {policy::AuthVectorKey(r.state), r.ki2_key_id, r.iccid, r.ver, r.created_at};
  }
};

// One request's place in its IMSI's chain: a write that reserves SEQs (update
// set), or SEQs served from a block reserved before (from_block).
struct AucService::Ticket {
  std::shared_ptr<Call> call;
  uint64_t first_base = 0;  // the SQN the first vector follows
  bool ready = false;       // computed, or abandoned (no update)
  std::optional<storage::Store::CounterUpdate> update;
  WipedBuffer<Vectors> vectors;  // CK, IK, XRES: wiped however the ticket ends
  // A write: how it ended (guarded by mu_), and the tickets served from its
  // block that wait for it to be durable.
  enum class Outcome { kPending, kDurable, kFailed } outcome = Outcome::kPending;
  Status failure;
  std::vector<std::shared_ptr<Ticket>> waiting;
  // Served from a block: the write that reserved it, while that was pending.
  bool from_block = false;
  std::shared_ptr<Ticket> block;
};

// The SQN writes of one IMSI that are reserved and not yet durable, and (with
// sqn_block > 1) the rest of the block the last one reserved.
struct AucService::Chain {
  std::string imsi;
  KeyIdentity key;
  uint64_t top = 0;         // the highest SQN reserved in this chain
  uint64_t issued = 0;      // the SQN of the last vector handed out; SEQs (issued, top] are the block's rest
  // What this chain's last durable write stored, and settles_ then (none yet:
  // its writes in flight are checked by their CAS, there is no block to judge).
  uint64_t durable_top = 0;
  uint64_t settled_at = UINT64_MAX;
  std::shared_ptr<Ticket> block_write;        // the write that reserved the block, until it settles
  std::deque<std::shared_ptr<Ticket>> queue;  // reserved, not yet handed to the store
  int outstanding = 0;                        // reserved and not yet settled
  bool in_idle = false;                       // listed in idle_ (at idle_pos)
  std::list<std::string>::iterator idle_pos;
};

AucService::~AucService() {
  std::unique_lock lock(mu_);
  settled_.wait(lock, [this] { return writes_in_flight_ == 0; });
}

void AucService::SendAuthInfoAsync(p11::Session& session, AuthInfoRequest request, Repost repost, Done done) {
  if (!options_.ind_slice.Contains(request.ind)) {
    return done(InvalidArgumentError("IND " + std::to_string(request.ind) + " is outside this node's slice " +
                                     std::to_string(options_.ind_slice.first) + "-" +
                                     std::to_string(options_.ind_slice.last)));
  }
  auto call = std::make_shared<Call>();
  call->request = std::move(request);
  call->repost = std::move(repost);
  call->done = std::move(done);
  Attempt(session, call);
}

void AucService::Attempt(p11::Session& session, const std::shared_ptr<Call>& call) {
  const AuthInfoRequest& request = call->request;
  const unsigned n = request.num_vectors == 0 || request.num_vectors > 5 ? 5 : request.num_vectors;
  auto fail = [&call](Status status) { call->done(std::move(status)); };

  // Writes of this service settled before the record is read are in it: a
  // block whose durable top the record is below was overtaken (see below).
  uint64_t settles_before_read;
  {
    std::lock_guard lock(mu_);
    settles_before_read = settles_;
  }
  auto r = store_.GetSubscriber(request.imsi);
  if (!r.ok()) return fail(r.status());
  const policy::AuthKey which = policy::AuthVectorKey(r->state);
  // A subscriber that no longer uses Ki_1 has it dropped from the Ki_1 cache here,
  // whichever node or path changed its state (sc-engine/engine/subscriber_keys.h).
  if (which != policy::AuthKey::kKi1) keys_.ForgetKi1(*r);
  if (which == policy::AuthKey::kNone) {
    return fail(FailedPreconditionError("subscriber " + r->imsi + " has no usable key (" +
                                        std::string(policy::StateName(r->state)) + ")"));
  }
  auto ver_kept = vers_.Get(r->ver);
  if (!ver_kept.ok()) return fail(ver_kept.status());
  const storage::VerRecord* ver = ver_kept->get();
  auto op = keys_.VerOp(session, *ver);
  if (!op.ok()) return fail(op.status());

  // The subscriber key, from its cache: Ki_1 while CONTRACTED, else Ki_2.
  auto held = which == policy::AuthKey::kKi1 ? keys_.Ki1(session, *r, *ver) : keys_.Ki2(session, *r, r->ki2_key_id);
  if (!held.ok()) return fail(held.status());
  // The RANDs from the pool that one token call fills for ~50 requests, rather
  // than a call per vector or per request: every call takes SoftHSM's locks.
  // Taken first: a refill uses the session, which the cipher below then holds.
  std::vector<std::pair<kms::Block, kms::Sqn>> inputs(n);
  std::array<uint8_t, 5 * sizeof(kms::Block)> rands;
  Status random = rands_.Take(session, std::span(rands.data(), n * sizeof(kms::Block)));
  if (!random.ok()) return fail(random);
  for (unsigned i = 0; i < n; ++i) {
    std::memcpy(inputs[i].first.data(), rands.data() + i * sizeof(kms::Block), sizeof(kms::Block));
  }
  // OPc, the AUTS check and the vectors in one multi-part AES-ECB operation
  // under the subscriber key (kms/auc_vectors.h).
  kms::TokenBlockCipher cipher(session, (*held)->get());
  auto opc = kms::ComputeOpcInToken(cipher, *op);
  if (!opc.ok()) return fail(opc.status());

  std::optional<uint64_t> resync_base;
  if (request.auts) {
    if (!request.auts_rand) return fail(InvalidArgumentError("AUTS without the RAND it answers"));
    auto sqn_ms = kms::VerifyAutsInToken(cipher, opc->reveal(), *request.auts_rand, *request.auts);
    if (!sqn_ms.ok()) return fail(sqn_ms.status().WithContext("AUTS of " + r->imsi));
    resync_base = kms::SqnToUint64(*sqn_ms);
  }

  const KeyIdentity identity = KeyIdentity::Of(*r);
  std::shared_ptr<Chain> chain;
  std::shared_ptr<Ticket> ticket;
  {
    std::lock_guard lock(mu_);
    auto& slot = chains_[r->imsi];
    // A chain of another key or record, or whose block the stored SQN went
    // below (an AUTS on another node restarted it from the chip's SQN, read
    // after this chain's last write was durable): its writes in flight will
    // fail their CAS, its rest is never used. Under the same key the next
    // block still starts above what this node reserved, so that the node
    // never hands out one SQN twice.
    uint64_t own_top = 0;
    if (slot && (slot->key != identity ||
                 (slot->settled_at <= settles_before_read && (r->sqn >> 5) < (slot->durable_top >> 5)))) {
      const std::shared_ptr<Chain> stale = slot;  // DropChainLocked erases `slot`
      if (stale->key == identity) own_top = stale->top;
      DropChainLocked(stale);
    }
    auto& current = chains_[r->imsi];
    if (!current) {
      current = std::make_shared<Chain>();
      current->imsi = r->imsi;
      current->key = identity;
      current->top = current->issued = HigherSeq(r->sqn, own_top);
      current->durable_top = r->sqn;
    }
    chain = current;
    ticket = std::make_shared<Ticket>();
    ticket->call = call;
    if (resync_base) chain->issued = chain->top;  // the chip's SQN rules now: the rest is a gap
    if (!resync_base && (chain->top >> 5) - (chain->issued >> 5) >= n) {
      // From the block in memory: no write. Released once the block is durable.
      ticket->from_block = true;
      ticket->block = chain->block_write;
      ticket->first_base = chain->issued;
      for (unsigned i = 0; i < n; ++i) chain->issued = NextSqn(chain->issued, request.ind);
      if (chain->outstanding == 0) IdleLocked(chain);
    } else {
      // A new block of max(sqn_block, n) SEQs, the rest of the old one a gap.
      // The write names the chain's top while writes are in flight (it follows
      // them), else the record's SQN (which other nodes may have moved past
      // this chain's top). After an AUTS it starts from the chip's SQN.
      const bool follows = chain->outstanding > 0;
      const uint64_t expected_sqn = follows ? chain->top : r->sqn;
      ticket->first_base = resync_base.value_or(follows ? chain->top : HigherSeq(r->sqn, chain->top));
      uint64_t top = ticket->first_base;
      for (unsigned i = 0; i < std::max(options_.sqn_block, n); ++i) top = NextSqn(top, request.ind);
      uint64_t issued = ticket->first_base;
      for (unsigned i = 0; i < n; ++i) issued = NextSqn(issued, request.ind);
      const storage::Store::Counters expected{expected_sqn, r->ota_counter_in, r->ota_counter_out};
      storage::Store::Counters next = expected;
      next.sqn = top;
      ticket->update = storage::Store::CounterUpdate{r->imsi, expected, next};
      chain->top = top;
      chain->issued = issued;
      chain->block_write = ticket;
      chain->queue.push_back(ticket);
      if (chain->in_idle) {
        idle_.erase(chain->idle_pos);
        chain->in_idle = false;
      }
      ++chain->outstanding;
    }
  }

  uint64_t last = ticket->first_base;
  for (auto& input : inputs) {
    last = NextSqn(last, request.ind);
    input.second = kms::SqnFromUint64(last);
  }
  kms::Amf amf{ver->amf.size() == 2 ? ver->amf[0] : uint8_t{0}, ver->amf.size() == 2 ? ver->amf[1] : uint8_t{0}};
  // The separation bit says "E-UTRAN" to the card's network, not a property of the VER.
  amf[0] = static_cast<uint8_t>(request.eutran ? amf[0] | 0x80 : amf[0] & 0x7F);
  auto vectors = kms::GenerateVectorsInToken(cipher, opc->reveal(), inputs, amf);
  if (!vectors.ok()) {
    if (ticket->from_block) return fail(vectors.status());  // its SEQs are a gap
    ticket->update.reset();  // abandoned: the later writes of the chain fail their CAS and compute again
    Ready(chain, ticket);
    return fail(vectors.status());
  }
  ticket->vectors = WipedBuffer<Vectors>(std::move(*vectors));
  if (ticket->from_block) return ServedFromBlock(ticket);
  Ready(chain, ticket);
}

void AucService::Ready(const std::shared_ptr<Chain>& chain, const std::shared_ptr<Ticket>& ticket) {
  std::lock_guard submitting(submit_mu_);
  std::vector<std::shared_ptr<Ticket>> go;
  {
    std::lock_guard lock(mu_);
    ticket->ready = true;
    while (!chain->queue.empty() && chain->queue.front()->ready) {
      go.push_back(std::move(chain->queue.front()));
      chain->queue.pop_front();
    }
  }
  for (std::shared_ptr<Ticket>& t : go) {
    if (!t->update) {
      Settled(chain, t, OkStatus());
      continue;
    }
    // The SQN is on disk before any vector leaves: Settled releases them. The
    // store validates each update through its group's batch, so a chained
    // update grouped with the one it follows sees that one's SQN.
    {
      std::lock_guard lock(mu_);
      ++writes_in_flight_;
    }
    store_.AdvanceCountersAsync({*t->update}, [this, chain, t](Status stored) {
      Settled(chain, t, stored);
      std::lock_guard lock(mu_);  // the last use of `this`: the destructor waits for it
      if (--writes_in_flight_ == 0) settled_.notify_all();
    });
  }
}

void AucService::Settled(const std::shared_ptr<Chain>& chain, const std::shared_ptr<Ticket>& ticket, Status stored) {
  std::vector<std::shared_ptr<Ticket>> waiting;
  // An abandoned write reserved nothing: what was served from its block must compute again.
  const Status block = ticket->update ? stored : FailedPreconditionError("the block's write was abandoned");
  {
    std::lock_guard lock(mu_);
    --chain->outstanding;
    if (chain->block_write == ticket) chain->block_write.reset();
    ticket->outcome = block.ok() ? Ticket::Outcome::kDurable : Ticket::Outcome::kFailed;
    ticket->failure = block;
    waiting.swap(ticket->waiting);
    if (block.ok()) {
      chain->durable_top = ticket->update->next.sqn;
      chain->settled_at = ++settles_;
    }
    if (!block.ok()) {
      DropChainLocked(chain);
    } else if (chain->outstanding == 0) {
      IdleLocked(chain);
    }
  }
  for (const std::shared_ptr<Ticket>& t : waiting) Release(t, block);
  if (!ticket->update) return;  // abandoned: its request was answered with the token's error
  Release(ticket, std::move(stored));
}

void AucService::ServedFromBlock(const std::shared_ptr<Ticket>& ticket) {
  Status block;
  {
    std::lock_guard lock(mu_);
    if (ticket->block && ticket->block->outcome == Ticket::Outcome::kPending) {
      ticket->block->waiting.push_back(ticket);  // released by the write's Settled
      return;
    }
    if (ticket->block) block = ticket->block->failure;
  }
  Release(ticket, std::move(block));
}

void AucService::Release(const std::shared_ptr<Ticket>& ticket, Status stored) {
  std::shared_ptr<Call> call = ticket->call;
  if (stored.ok()) return call->done(std::move(ticket->vectors.get()));
  ticket->vectors = WipedBuffer<Vectors>();
  if (stored.code() != StatusCode::kFailedPrecondition) return call->done(std::move(stored));
  if (++call->attempt < kMaxAttempts) {
    // Another writer moved the counters: compute again from the new SQN, on a worker.
    return call->repost([this, call](p11::Session& session) { Attempt(session, call); });
  }
  // Not "no usable key" (the subscriber's FailedPrecondition): a store-side failure.
  call->done(UnavailableError("the counters of " + call->request.imsi + " kept moving: " + stored.message()));
}

void AucService::DropChainLocked(const std::shared_ptr<Chain>& chain) {
  if (chain->in_idle) {
    idle_.erase(chain->idle_pos);
    chain->in_idle = false;
  }
  auto it = chains_.find(chain->imsi);
  if (it != chains_.end() && it->second == chain) chains_.erase(it);
}

void AucService::IdleLocked(const std::shared_ptr<Chain>& chain) {
  auto it = chains_.find(chain->imsi);
  if (it == chains_.end() || it->second != chain) return;  // dropped already
  if ((chain->top >> 5) == (chain->issued >> 5)) return DropChainLocked(chain);  // nothing left to serve
  if (chain->in_idle) idle_.erase(chain->idle_pos);
  idle_.push_front(chain->imsi);
  chain->idle_pos = idle_.begin();
  chain->in_idle = true;
  while (idle_.size() > options_.max_cached_blocks) {
    auto oldest = chains_.find(idle_.back());
    if (oldest == chains_.end()) {  // cannot happen: listed chains are in the map
      idle_.pop_back();
      continue;
    }
    const std::shared_ptr<Chain> evicted = oldest->second;  // DropChainLocked erases the entry
    DropChainLocked(evicted);  // its rest is a gap
  }
}

Status AucService::RecordPeerRefused(const std::string& address, const std::string& ipa_name, bool named) {
  return store_.Commit(storage::WriteSet(),
                       {.time_ms = clock_(),
                        .actor_role = "network",
                        .actor_identity = ipa_name,
                        .event = "auc.peer-refused",
                        .subject = address,
                        .details = {{"address", address},
                                    {"ipa_name", ipa_name},
                                    {"reason", named ? "not in gsup.peers" : "address not in gsup.peers"}}});
}

Status AucService::RecordAuthFailReport(const std::string& imsi, const std::string& peer) {
  SIMKMS_ASSIGN_OR_RETURN(storage::SubscriberRecord record, store_.GetSubscriber(imsi));
  return store_.Commit(storage::WriteSet(), {.time_ms = clock_(),
                                             .actor_role = "network",
                                             .actor_identity = peer,
                                             .event = "auc.auth-fail-report",
                                             .subject = imsi,
                                             .details = {{"state", std::string(policy::StateName(record.state))}}});
}

std::size_t AucService::chains_in_flight() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [imsi, chain] : chains_) n += chain->outstanding > 0;
  return n;
}

std::size_t AucService::cached_blocks() const {
  std::lock_guard lock(mu_);
  return idle_.size();
}

StatusOr<AucService::Vectors> AucService::SendAuthInfo(p11::Session& session, const AuthInfoRequest& request) {
  struct Mailbox {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Job> jobs;
    std::optional<StatusOr<Vectors>> result;
  };
  auto box = std::make_shared<Mailbox>();
  SendAuthInfoAsync(
      session, request,
      [box](Job job) {
        std::lock_guard lock(box->mu);
        box->jobs.push_back(std::move(job));
        box->cv.notify_one();
      },
      [box](StatusOr<Vectors> vectors) {
        std::lock_guard lock(box->mu);
        box->result.emplace(std::move(vectors));
        box->cv.notify_one();
      });
  std::unique_lock lock(box->mu);
  for (;;) {
    box->cv.wait(lock, [&] { return box->result.has_value() || !box->jobs.empty(); });
    if (box->result) return std::move(*box->result);
    Job job = std::move(box->jobs.front());
    box->jobs.pop_front();
    lock.unlock();
    job(session);  // a recomputation: on this thread, which holds the session
    lock.lock();
  }
}

}  // namespace simkms::sc
