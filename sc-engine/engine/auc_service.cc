#include "sc-engine/engine/auc_service.h"

#include <array>
#include <cstring>

#include "base/wiped_buffer.h"
#include "kms/auc_vectors.h"
#include "kms/ki1.h"
#include "kms/registry.h"
#include "policy/lifecycle.h"

namespace simkms::sc {
namespace {

// Attempts per request when the SQN moved under it (another writer of the
// subscriber's counters: an earlier write of a dropped chain, the chip
// channel's OTA counters, a concurrent resync). Each attempt reads the record
// again, so only a subscriber hammered from several sides runs out of them.
constexpr int kMaxAttempts = 8;

}  // namespace

struct AucService::Call {
  AuthInfoRequest request;
  Repost repost;
  Done done;
  int attempt = 0;
};

// One request's place in its IMSI's chain of SQN writes.
struct AucService::Ticket {
  std::shared_ptr<Call> call;
  uint64_t first_base = 0;  // the SQN the first vector follows
  bool ready = false;       // computed, or abandoned (no update)
  std::optional<storage::Store::CounterUpdate> update;
  WipedBuffer<Vectors> vectors;  // CK, IK, XRES: wiped however the ticket ends
};

// The SQN writes of one IMSI that are reserved and not yet durable.
struct AucService::Chain {
  std::string imsi;
  uint64_t top = 0;                           // the highest SQN reserved in this chain
  std::deque<std::shared_ptr<Ticket>> queue;  // reserved, not yet handed to the store
  int outstanding = 0;                        // reserved and not yet settled
};

AucService::~AucService() {
  std::unique_lock lock(mu_);
  settled_.wait(lock, [this] { return writes_in_flight_ == 0; });
}

void AucService::SendAuthInfoAsync(p11::Session& session, AuthInfoRequest request, Repost repost, Done done) {
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

  auto r = store_.GetSubscriber(request.imsi);
  if (!r.ok()) return fail(r.status());
  const policy::AuthKey which = policy::AuthVectorKey(r->state);
  if (which == policy::AuthKey::kNone) {
    return fail(FailedPreconditionError("subscriber " + r->imsi + " has no usable key (" +
                                        std::string(policy::StateName(r->state)) + ")"));
  }
  auto ver = store_.GetVer(r->ver);
  if (!ver.ok()) return fail(ver.status());
  auto op = keys_.VerOp(session, *ver);
  if (!op.ok()) return fail(op.status());

  // The subscriber key: Ki_1 derived now (destroyed with `ki1`), or Ki_2 from the cache.
  p11::ScopedObject ki1;
  kms::Ki2Cache::Handle ki2;
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  if (which == policy::AuthKey::kKi1) {
    auto derived = keys_.Ki1(session, *r, *ver);
    if (!derived.ok()) return fail(derived.status());
    ki1 = std::move(*derived);
    key = ki1.get();
  } else {
    auto cached = keys_.Ki2(session, *r, r->ki2_key_id);
    if (!cached.ok()) return fail(cached.status());
    ki2 = std::move(*cached);
    key = ki2->get();
  }
  auto opc = kms::ComputeOpcInToken(session, key, *op);
  if (!opc.ok()) return fail(opc.status());

  std::optional<uint64_t> resync_base;
  if (request.auts) {
    if (!request.auts_rand) return fail(InvalidArgumentError("AUTS without the RAND it answers"));
    auto sqn_ms = kms::VerifyAutsInToken(session, key, opc->reveal(), *request.auts_rand, *request.auts);
    if (!sqn_ms.ok()) return fail(sqn_ms.status().WithContext("AUTS of " + r->imsi));
    resync_base = kms::SqnToUint64(*sqn_ms);
  }
  // All RANDs from one token call rather than one per vector: every call takes
  // SoftHSM's locks.
  std::vector<std::pair<kms::Block, kms::Sqn>> inputs(n);
  std::array<uint8_t, 5 * sizeof(kms::Block)> rands;
  Status random = session.GenerateRandom(rands.data(), n * sizeof(kms::Block));
  if (!random.ok()) return fail(random);
  for (unsigned i = 0; i < n; ++i) {
    std::memcpy(inputs[i].first.data(), rands.data() + i * sizeof(kms::Block), sizeof(kms::Block));
  }

  std::shared_ptr<Chain> chain;
  std::shared_ptr<Ticket> ticket;
  {
    std::lock_guard lock(mu_);
    auto& slot = chains_[r->imsi];
    if (!slot) {
      slot = std::make_shared<Chain>();
      slot->imsi = r->imsi;
      slot->top = r->sqn;
    }
    chain = slot;
    ticket = std::make_shared<Ticket>();
    ticket->call = call;
    ticket->first_base = resync_base.value_or(chain->top);
    uint64_t last = ticket->first_base;
    for (unsigned i = 0; i < n; ++i) last = NextSqn(last, request.ind);
    const storage::Store::Counters expected{chain->top, r->ota_counter_in, r->ota_counter_out};
    storage::Store::Counters next = expected;
    next.sqn = last;
    ticket->update = storage::Store::CounterUpdate{r->imsi, expected, next};
    chain->top = last;
    chain->queue.push_back(ticket);
    ++chain->outstanding;
  }

  uint64_t last = ticket->first_base;
  for (auto& input : inputs) {
    last = NextSqn(last, request.ind);
    input.second = kms::SqnFromUint64(last);
  }
  kms::Amf amf{ver->amf.size() == 2 ? ver->amf[0] : uint8_t{0}, ver->amf.size() == 2 ? ver->amf[1] : uint8_t{0}};
  auto vectors = kms::GenerateVectorsInToken(session, key, opc->reveal(), inputs, amf);
  if (!vectors.ok()) {
    ticket->update.reset();  // abandoned: the later writes of the chain fail their CAS and compute again
    Ready(chain, ticket);
    return fail(vectors.status());
  }
  ticket->vectors = WipedBuffer<Vectors>(std::move(*vectors));
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
  {
    std::lock_guard lock(mu_);
    --chain->outstanding;
    if (!stored.ok() || !ticket->update || chain->outstanding == 0) DropChainLocked(chain);
  }
  if (!ticket->update) return;  // abandoned: its request was answered with the token's error
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
  auto it = chains_.find(chain->imsi);
  if (it != chains_.end() && it->second == chain) chains_.erase(it);
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
  return chains_.size();
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
