#include "sc-engine/engine/chip_channel.h"

#include <algorithm>

#include "kms/auc_vectors.h"
#include "policy/lifecycle.h"
#include "sc-engine/engine/subscriber_registry.h"
#include "sc-engine/protocol/secured_packet.h"

namespace simkms::sc {

// Holds the session objects a packet needs (handles from the key caches, or a
// retired Ki_1 derived for this packet) and the ScSubscriber view built on them.
struct ChipChannel::Subscriber {
  storage::SubscriberRecord record;
  ScSubscriber view;
  kms::KeyCache::Handle ki1;
  kms::KeyCache::Handle ki2;
  kms::KeyCache::Handle previous_ki2;
};

ChipChannel::~ChipChannel() {
  std::lock_guard lock(mu_);
  pending_.clear();
}

std::size_t ChipChannel::pending_sessions() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

bool ChipChannel::HasPendingSession(const std::string& imsi) const {
  std::lock_guard lock(mu_);
  return pending_.count(imsi) != 0;
}

std::size_t ChipChannel::imsis_locked() const {
  std::lock_guard lock(mu_);
  return imsi_locks_.size();
}

class ChipChannel::ImsiLock {
 public:
  ImsiLock(ChipChannel& channel, const std::string& imsi) : channel_(channel), imsi_(imsi) {
    {
      std::lock_guard lock(channel_.mu_);
      auto& m = channel_.imsi_locks_[imsi_];
      if (!m) m = std::make_shared<std::mutex>();
      mutex_ = m;
    }
    mutex_->lock();
  }
  ~ImsiLock() {
    mutex_->unlock();
    std::lock_guard lock(channel_.mu_);
    // Copies are made and dropped only under mu_, so the count is exact here: the
    // map's and this one mean no other packet holds or waits for the mutex.
    if (mutex_.use_count() == 2) channel_.imsi_locks_.erase(imsi_);
    mutex_.reset();
  }
  ImsiLock(const ImsiLock&) = delete;
  ImsiLock& operator=(const ImsiLock&) = delete;

 private:
  ChipChannel& channel_;
  const std::string imsi_;
  std::shared_ptr<std::mutex> mutex_;
};

StatusOr<std::unique_ptr<ChipChannel::Subscriber>> ChipChannel::Load(p11::Session& session,
                                                                     const storage::SubscriberRecord& r) {
  auto sub = std::make_unique<Subscriber>();
  sub->record = r;
  SIMKMS_ASSIGN_OR_RETURN(std::shared_ptr<const storage::VerRecord> kept_ver, vers_.Get(r.ver));
  const storage::VerRecord& ver = *kept_ver;
  ScSubscriber& v = sub->view;
  v.imsi = r.imsi;
  v.ver = r.ver;
  if (ver.dh_group == storage::DhGroup::kCustom) {
    SIMKMS_ASSIGN_OR_RETURN(v.group, protocol::DhGroup::Custom(ver.custom_p, ver.custom_g));
  } else {
    SIMKMS_ASSIGN_OR_RETURN(kms::DhGroupKind kind, kms::ParseDhGroupKind(storage::DhGroupName(ver.dh_group)));
    SIMKMS_ASSIGN_OR_RETURN(v.group, protocol::DhGroup::Named(kind));
  }
  SIMKMS_ASSIGN_OR_RETURN(v.op, subscriber_keys_.VerOp(session, ver));
  // Ki_1 always: the first call's key, and after personalization the key a
  // clone (or a chip whose COMMIT was lost) speaks under.
  // (From the Ki_1 cache while CONTRACTED: the CONFIRM does not derive it again.)
  SIMKMS_ASSIGN_OR_RETURN(sub->ki1, subscriber_keys_.Ki1(session, r, ver));
  // Each key with its own counters: the record's ota_counter_in/out are the current key's.
  v.personalized = r.state == storage::SubscriberState::kPersonalized ||
                   r.state == storage::SubscriberState::kRekeyPending;
  if (v.personalized) {
    SIMKMS_ASSIGN_OR_RETURN(sub->ki2, subscriber_keys_.Ki2(session, r, r.ki2_key_id));
    v.current = BaseKey{sub->ki2->get(), protocol::kKeyVersionKi2, r.ki2_key_id, r.ota_counter_in, r.ota_counter_out};
    v.previous.push_back(BaseKey{sub->ki1->get(), protocol::kKeyVersionKi1, "ki1", r.ota.ki1.in, r.ota.ki1.out});
    if (!r.previous_ki2_key_id.empty()) {
      SIMKMS_ASSIGN_OR_RETURN(sub->previous_ki2, subscriber_keys_.Ki2(session, r, r.previous_ki2_key_id));
      v.previous.push_back(BaseKey{sub->previous_ki2->get(), protocol::kKeyVersionKi2, r.previous_ki2_key_id,
                                   r.ota.previous_ki2.in, r.ota.previous_ki2.out});
    }
  } else {
    v.current = BaseKey{sub->ki1->get(), protocol::kKeyVersionKi1, "ki1", r.ota_counter_in, r.ota_counter_out};
  }
  v.session_allowed = r.state == storage::SubscriberState::kContracted ||
                      r.state == storage::SubscriberState::kRekeyPending;
  if (r.last_commit_session.size() == 8) {
    protocol::SessionId id{};
    std::copy(r.last_commit_session.begin(), r.last_commit_session.end(), id.begin());
    v.last_commit_session = id;
  }
  SubscriberRegistry registry(session, keys_, store_, {"sc", "chip-channel"}, clock_, limits_);
  SIMKMS_ASSIGN_OR_RETURN(v.activation_verifier, registry.ActivationVerifier(r));
  v.activation_tries_left = static_cast<uint8_t>(std::min<uint32_t>(r.activation_tries_left, 255));
  return sub;
}

StatusOr<ChipChannelResult> ChipChannel::OnPacket(p11::Session& session, const std::string& imsi, ByteView packet) {
  ImsiLock serial(*this, imsi);

  auto record = store_.GetSubscriber(imsi);
  if (!record.ok()) {
    if (record.status().code() == StatusCode::kNotFound) {
      return NotFoundError("IMSI " + imsi + " has no contract: packet refused");  // misuse 1.1
    }
    return record.status();
  }
  std::unique_ptr<ScPendingSession> pending;
  {
    std::lock_guard lock(mu_);
    if (auto it = pending_.find(imsi); it != pending_.end()) pending = std::move(it->second), pending_.erase(it);
  }
  // A packet that does not belong to the exchange in progress changes nothing: the
  // genuine chip's pending session is put back (packets of one IMSI are serialised
  // by its lock, so nothing took its place meanwhile).
  auto keep_pending = [&] {
    if (!pending) return;
    std::lock_guard lock(mu_);
    pending_.emplace(imsi, std::move(pending));
  };
  auto loaded = Load(session, *record);
  if (!loaded.ok()) {
    keep_pending();
    return loaded.status();
  }
  std::unique_ptr<Subscriber> sub = std::move(*loaded);
  ScRole role(session);
  auto step = role.OnPacket(sub->view, pending.get(), packet);
  if (!step.ok()) {
    keep_pending();  // a packet that does not verify
    return step.status();
  }
  const storage::SubscriberRecord& r = sub->record;
  // Only the counters of the key the packet came under move (docs/protocol.md §2).
  const BaseKey& channel = step->channel;
  const bool under_current = channel.id == sub->view.current.id;
  const std::pair<uint64_t, uint64_t> counters{step->counter_in, std::max(channel.counter_out, step->counter_out)};
  auto advance = [&]() {
    const storage::Store::Counters stored{r.sqn, r.ota_counter_in, r.ota_counter_out};
    if (under_current) return store_.AdvanceCounters({{imsi, stored, {r.sqn, counters.first, counters.second}}});
    storage::OtaBookkeeping next = r.ota;
    (channel.version == protocol::kKeyVersionKi1 ? next.ki1 : next.previous_ki2) = {counters.first, counters.second};
    return store_.AdvanceCounters({{imsi, stored, stored, storage::Store::OtaBookkeepingUpdate{r.ota, next}}});
  };
  SubscriberRegistry registry(session, keys_, store_, {"sc", "chip-channel"}, clock_, limits_);
  ChipChannelResult result;
  switch (step->kind) {
    case ScStep::Kind::kChallenge: {
      // The pending session keeps Ki_2 wrapped as the commit will store it, and
      // K_act only if the CONFIRM must prove an activation code (ScRole derives
      // it only then): no token object per waiting chip (the wrap is the
      // commit's, done earlier, not extra work).
      SIMKMS_ASSIGN_OR_RETURN(step->pending->ki2_wrapped,
                              subscriber_keys_.vault().Wrap(session, step->pending->ki2.get()));
      step->pending->ki2.Reset();
      SIMKMS_RETURN_IF_ERROR(advance());
      std::lock_guard lock(mu_);
      if (pending_.size() >= kPendingSessionsWithOtaKeys) {
        step->pending->ota.reset();
      }
      pending_[imsi] = std::make_unique<ScPendingSession>(std::move(*step->pending));
      result.outcome = "challenge";
      break;
    }
    case ScStep::Kind::kResendCommit:
      SIMKMS_RETURN_IF_ERROR(advance());
      result.outcome = "resend_commit";
      break;
    case ScStep::Kind::kCommit: {
      SubscriberRegistry::KeyCommit commit;
      commit.session_id = pending->session_id;
      commit.ota_counters = counters;
      if (!pending->ki2_wrapped) return InternalError("pending session of " + imsi + " holds no wrapped Ki_2");
      auto committed = registry.CommitNewKey(imsi, *pending->ki2_wrapped, pending->puk,
                                             pending->activation_required, commit);
      if (!committed.ok()) return committed.status().WithContext("commit Ki_2 of " + imsi);
      subscriber_keys_.ForgetKi1(r);  // Ki_2 is the key now: a first call's Ki_1 leaves the cache at once
      result.outcome = "commit";
      break;
    }
    case ScStep::Kind::kRejected:
      if (step->error == protocol::ErrorCode::kWrongActivationCode) {
        SIMKMS_ASSIGN_OR_RETURN(policy::Transition t,
                                registry.RecordEvent(imsi, policy::ActivationCodeRejected{}, counters));
        result.outcome = t.next && t.next->state == storage::SubscriberState::kLocked ? "locked"
                                                                                       : "activation_rejected";
      } else {
        // Under a key that is not the current one (the previous Ki_2) nothing
        // moves, the exchange in progress included: such a packet is answered,
        // but only a resync is acted on.
        if (under_current) {
          SIMKMS_RETURN_IF_ERROR(advance());
        } else {
          keep_pending();
        }
        result.outcome = "rejected";
      }
      break;
    case ScStep::Kind::kCloneAlarm: {
      // No counter moves: a clone's (authentic Ki_1) packet must not push any
      // ahead, or it would lock the genuine chip out of re-keys or of the
      // resync of a lost COMMIT (docs/lifecycle.md: misuse 1.2 changes nothing
      // but the audit). Replays and floods are held back by DecideCloneAlarm.
      keep_pending();  // a clone's packet must not cancel the genuine chip's re-key
      SIMKMS_ASSIGN_OR_RETURN(CloneAlarmAction action, registry.RecordCloneAlarm(imsi, channel.version, step->counter_in));
      result.outcome = action == CloneAlarmAction::kAudit      ? "clone_alarm"
                       : action == CloneAlarmAction::kSuppress ? "clone_alarm_suppressed"
                                                               : "clone_alarm_duplicate";
      return result;  // no answer to a clone
    }
  }
  result.reply = std::move(step->packet);
  return result;
}

}  // namespace simkms::sc
