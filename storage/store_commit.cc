// Group commit: the write path of Store.
//
// One writer thread owned by the Store takes every pending write (Commit, AdvanceCounters,
// AdvanceCountersAsync) off a queue and makes ONE engine transaction of as many as are
// waiting, then ONE checkpoint write. When the engine answers that the transaction
// wrote nothing (Aborted: another node's conflicting write; Unavailable: the DB cannot
// be reached), the group runs again from scratch against the new state, until
// StoreOptions::commit_retry_timeout_ms has passed. The counter updates a group wrote
// are acknowledged once its transaction is durable, before the checkpoint write (they
// carry no audit record for it to cover); its Commits, and every refusal, after it.
//
// A dedicated thread rather than LevelDB's leader/follower queue: AdvanceCountersAsync needs a thread to run `done` on that is
// not a caller's, and one thread owning the audit head keeps the chain sequential
// without hand-offs between leaders.
#include "storage/store.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "storage/store_internal.h"
#include "storage/write_set_internal.h"

namespace simkms::storage {

namespace {

// Bounds of one commit group (besides kMaxCheckpointLag audited submissions): the
// submissions taken at once, and the transaction bytes after which the rest waits for
// the next.
constexpr std::size_t kMaxGroupSubmissions = 256;
constexpr std::size_t kMaxGroupBytes = 4 << 20;
// The pause between attempts at a group the engine did not write: doubling from the
// first to the last (a serialization conflict clears at once; a failover takes seconds).
constexpr std::chrono::milliseconds kFirstRetryPause{1};
constexpr std::chrono::milliseconds kMaxRetryPause{100};

}  // namespace

Status Store::Rep::ApplyCommitLocked(const WriteSet& writes, const AuditEvent& event,
                                     KvTransaction& txn, uint64_t& seq, Bytes& hash) {
  const std::string ctx = "commit '" + event.event + "'";
  const auto& ops = writes.ops();
  for (std::size_t i = 0; i < ops.size(); ++i) {
    SIMKMS_RETURN_IF_ERROR(ApplyLocked(ops[i], txn).WithContext(ctx + ", operation " + std::to_string(i + 1)));
  }
  AuditRecord record;
  record.seq = seq + 1;
  record.epoch = head_epoch;
  record.event = event;
  record.prev_hash = hash;
  auto record_mac = mac.Compute(EncodeAuditRecordForMac(record));
  if (!record_mac.ok()) return record_mac.status().WithContext(ctx + ": compute audit MAC");
  if (record_mac->empty()) return InternalError(ctx + ": AuditMac returned an empty MAC");
  record.mac = std::move(record_mac).value();
  const Bytes encoded = EncodeAuditRecord(record);
  txn.Put(kAudit, U64Key(record.seq), Chars(encoded));
  seq = record.seq;
  hash = AuditHash(encoded);
  return OkStatus();
}

void Store::Rep::Submit(Submission s) {
  {
    std::lock_guard<std::mutex> lock(queue_mu);
    if (!stopping) {
      queue.push_back(std::move(s));
      queue_cv.notify_one();
      return;
    }
  }
  s.done(UnavailableError("store is closing"), 0);
}

// The epoch timer: closes the open epoch when its time is up and no commit came to do
// it. A failed close (token down) is retried a second later.
void Store::Rep::RunEpochTimer() {
  std::lock_guard<std::mutex> lock(commit_mu);
  Status s = SyncHeadLocked();
  if (s.ok()) s = MaybeCloseEpochLocked();
  if (!s.ok()) close_deadline_ms.store(NowMs() + 1000);
}

void Store::Rep::WriterLoop() {
  std::vector<Submission> group;
  if (mac.forward_secure()) {
    // Learn the open epoch now, so that its timer runs even if no commit comes. A
    // failure here is reported again by the first Commit.
    std::lock_guard<std::mutex> lock(commit_mu);
    (void)SyncHeadLocked();
  }
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mu);
      bool timer_due = false;
      while (!stopping && queue.empty()) {
        const int64_t deadline = close_deadline_ms.load();
        if (deadline == 0) {
          queue_cv.wait(lock);
          continue;
        }
        const int64_t now = NowMs();
        if (now >= deadline) {
          timer_due = true;
          break;
        }
        queue_cv.wait_for(lock, std::chrono::milliseconds(deadline - now));
      }
      if (timer_due) {
        lock.unlock();
        RunEpochTimer();
        continue;
      }
      if (queue.empty()) return;  // stopping, and everything submitted has completed
      uint64_t audited = 0;
      while (!queue.empty() && group.size() < kMaxGroupSubmissions) {
        const bool is_commit = queue.front().writes != nullptr;
        if (is_commit && audited == kMaxCheckpointLag) break;
        audited += is_commit ? 1 : 0;
        group.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
    RunGroup(group);
    group.clear();
  }
}

void Store::Rep::RunGroup(std::vector<Submission>& group) {
  std::vector<Outcome> outcomes;
  std::size_t taken = group.size();
  // Completions run outside commit_mu, so a `done` may read (CheckpointHealth, getters).
  auto complete = [&](std::size_t i) {
    std::exchange(group[i].done, nullptr)(std::move(outcomes[i].status), outcomes[i].seq);
  };
  {
    std::unique_lock<std::mutex> lock(commit_mu);
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + std::chrono::milliseconds(options.commit_retry_timeout_ms);
    auto pause = kFirstRetryPause;
    for (uint64_t attempt = 1;; ++attempt) {
      outcomes.assign(group.size(), Outcome{});
      taken = group.size();
      const Status not_written = RunGroupOnceLocked(group, outcomes, taken);
      if (not_written.ok()) break;
      if (std::chrono::steady_clock::now() + pause > deadline) {
        // Nothing of the group was written and no state changed: the submissions the
        // last attempt would have written fail; the refused ones keep their refusal.
        const Status give_up(StatusCode::kUnavailable,
                             "commit group not written after " + std::to_string(attempt) + " attempt(s) in " +
                                 std::to_string(options.commit_retry_timeout_ms) +
                                 " ms (commit_retry_timeout_ms): " + not_written.message());
        for (std::size_t i = 0; i < taken; ++i) {
          if (outcomes[i].status.ok()) outcomes[i] = Outcome{give_up, 0};
        }
        break;
      }
      // commit_mu is released while waiting, so that readers that take it
      // (VerifyAudit, CheckpointHealth) are not held up by an unreachable DB. Only
      // this thread changes what it guards.
      lock.unlock();
      std::this_thread::sleep_for(pause);
      lock.lock();
      pause = std::min(pause * 2, kMaxRetryPause);
    }
    stat_groups.fetch_add(1, std::memory_order_relaxed);
    stat_submissions.fetch_add(taken, std::memory_order_relaxed);
    if (checkpoint_write_due) {
      // The group's transaction is durable (only the attempt that wrote it sets
      // checkpoint_write_due) and its checkpoint is still to be written: a token
      // object, the slowest step of a group (docs/performance.md, issue 15). The
      // counter updates it wrote carry no audit record for the checkpoint to cover,
      // so they are acknowledged now; its Commits only after the write, so that an
      // acknowledged audited change is covered by the checkpoint unless its write
      // failed (store.h, "AUDIT CHECKPOINT"). Refusals keep their time, after it.
      // Releasing commit_mu meanwhile is safe: only this thread changes what it
      // guards, so head_* are still this group's when it is taken again, and the one
      // reader that needs the checkpoint to match the chain, VerifyAudit, waits while
      // checkpoint_write_due is set.
      lock.unlock();
      for (std::size_t i = 0; i < taken; ++i) {
        if (group[i].writes == nullptr && outcomes[i].status.ok()) complete(i);
      }
      lock.lock();
      WriteGroupCheckpointLocked();
    }
  }
  if (taken < group.size()) {
    std::lock_guard<std::mutex> lock(queue_mu);
    for (std::size_t i = group.size(); i-- > taken;) queue.push_front(std::move(group[i]));
  }
  for (std::size_t i = 0; i < taken; ++i) {
    if (group[i].done) complete(i);
  }
  group.resize(taken);
}

Status Store::Rep::RunGroupOnceLocked(const std::vector<Submission>& group, std::vector<Outcome>& outcomes,
                                      std::size_t& taken) {
  bool any_commit = false;
  for (const Submission& s : group) any_commit = any_commit || s.writes != nullptr;
  // Retries a failed checkpoint write / reconciles after Open; refuses only the
  // audited submissions (counters carry no audit record, as before group commit).
  head_step_not_written = false;
  Status head = any_commit ? SyncHeadLocked() : OkStatus();
  if (head.ok() && any_commit) head = MaybeCloseEpochLocked();
  // The database did not answer the head's read or the close record's write: nothing
  // was written, so the whole group runs again (RunGroup), as for a COMMIT that was
  // not written. A refusal of the store's own (the token cannot write the checkpoint
  // or advance the key, the chain is broken) stays final for this group.
  if (!head.ok() && head_step_not_written) return head;

  auto begun = BeginTransaction("group commit");
  if (!begun.ok()) {
    if (CommitNotWritten(begun.status())) return begun.status();
    for (std::size_t i = 0; i < taken; ++i) outcomes[i].status = begun.status();
    return OkStatus();
  }
  KvTransaction& txn = **begun;
  // Everything below stays local until the transaction is durable: a group that is
  // refused, not written, or run again leaves no trace in Rep.
  uint64_t seq = head_seq;
  Bytes hash = head_hash;
  bool restart_pending = restart_needed;
  bool any_ok = false;
  bool any_audited = false;
  uint64_t group_audited = 0;
  const bool fs = mac.forward_secure();
  for (std::size_t i = 0; i < group.size(); ++i) {
    if (i > 0 && txn.DataSize() >= kMaxGroupBytes) {
      taken = i;  // the rest goes back to the head of the queue, in order
      break;
    }
    const Submission& s = group[i];
    if (s.writes != nullptr && !head.ok()) {
      outcomes[i].status = head.WithContext("commit '" + s.event->event + "'");
      continue;
    }
    if (s.writes != nullptr && fs && group_audited > 0 &&
        epoch_records + group_audited >= options.audit_epoch_max_records) {
      taken = i;  // the epoch is full: the next group closes it first
      break;
    }
    if (s.writes != nullptr) {
      const bool restart = s.event->event == kAuditChainRestartEvent;
      if (s.event->event == kAuditEpochCloseEvent || (restart && !restart_pending)) {
        outcomes[i].status = InvalidArgumentError("commit: audit event '" + s.event->event +
                                                  "' is written by the store or the restore ceremony only");
        continue;
      }
      if (restart_pending && !restart) {
        outcomes[i].status = FailedPreconditionError(
            "commit '" + s.event->event + "': the token's audit epoch seed starts at epoch " +
            std::to_string(head_epoch) + ", past the chain head: the restore ceremony's " + kAuditChainRestartEvent +
            " record must come first");
        continue;
      }
    }
    // Per-submission all-or-nothing: a refused submission is rolled back out of the
    // transaction; later submissions validate against it as the earlier left it.
    txn.SetSavePoint();
    Status st = s.writes != nullptr ? ApplyCommitLocked(*s.writes, *s.event, txn, seq, hash)
                                    : ApplyCountersLocked(s.counters, txn);
    if (st.ok()) {
      txn.PopSavePoint();
    } else {
      txn.RollbackToSavePoint();
    }
    if (st.ok() && s.writes != nullptr) {
      outcomes[i].seq = seq;
      any_audited = true;
      ++group_audited;
      if (s.event->event == kAuditChainRestartEvent) restart_pending = false;
    }
    any_ok = any_ok || st.ok();
    outcomes[i].status = std::move(st);
  }
  if (!any_ok) return OkStatus();  // nothing to write; the transaction is abandoned

  const Status ws = txn.Commit();
  if (CommitNotWritten(ws)) return ws;  // run again (RunGroup)
  if (!ws.ok()) {
    // The transaction may or may not have been applied: reload the head next time.
    head_synced = false;
    const Status err = ws.WithContext("commit group (audit records " + std::to_string(head_seq + 1) + ".." +
                                      std::to_string(seq) + ")");
    for (std::size_t i = 0; i < taken; ++i) {
      if (outcomes[i].status.ok()) outcomes[i] = Outcome{err, 0};
    }
    return OkStatus();
  }
  // Durable: now, and only now, the in-memory state follows.
  head_seq = seq;
  head_hash = hash;
  restart_needed = restart_pending;
  for (std::size_t i = 0; i < taken; ++i) {
    if (outcomes[i].status.ok() && group[i].writes != nullptr) NotePurgeLocked(*group[i].writes);
  }
  if (fs && group_audited > 0) {
    if (epoch_records == 0) epoch_opened_ms = NowMs();
    epoch_records += group_audited;
    SetCloseDeadlineLocked();
  }
  checkpoint_write_due = any_audited;  // RunGroup writes it, after acknowledging the counter updates
  return OkStatus();
}

void Store::Rep::WriteGroupCheckpointLocked() {
  // The transaction is durable: a checkpoint failure no longer undoes the commits (see store.h).
  Status cs = checkpoints.Write(AuditCheckpoint{head_seq, head_hash});
  checkpoint_pending = !cs.ok();
  checkpoint_status =
      cs.ok() ? OkStatus() : cs.WithContext("write audit checkpoint for record " + std::to_string(head_seq));
  checkpoint_write_due = false;
  checkpoint_written_cv.notify_all();
}

void Store::Rep::StopWriter() {
  {
    std::lock_guard<std::mutex> lock(queue_mu);
    stopping = true;
  }
  queue_cv.notify_all();
  if (writer.joinable()) writer.join();
}

Status Store::Commit(const WriteSet& writes, const AuditEvent& event, uint64_t* audit_seq) {
  Rep& rep = *rep_;
  if (rep.read_only) return FailedPreconditionError("commit: store opened read-only");
  if (event.event.empty()) return InvalidArgumentError("commit: audit event name is empty");
  std::promise<Status> result;
  std::future<Status> done = result.get_future();
  Rep::Submission s;
  s.writes = &writes;
  s.event = &event;
  s.done = [&result, audit_seq](Status status, uint64_t seq) {
    if (status.ok() && audit_seq != nullptr) *audit_seq = seq;
    result.set_value(std::move(status));
  };
  rep.Submit(std::move(s));
  return done.get();
}

Status Store::AdvanceCounters(const std::vector<CounterUpdate>& updates) {
  if (rep_->read_only) return FailedPreconditionError("advance counters: store opened read-only");
  if (updates.empty()) return OkStatus();
  std::promise<Status> result;
  std::future<Status> done = result.get_future();
  AdvanceCountersAsync(updates, [&result](Status status) { result.set_value(std::move(status)); });
  return done.get();
}

void Store::AdvanceCountersAsync(std::vector<CounterUpdate> updates, std::function<void(Status)> done) {
  Rep& rep = *rep_;
  if (rep.read_only) {
    // No writer thread on a read-only store: refused on the caller's thread.
    done(FailedPreconditionError("advance counters: store opened read-only"));
    return;
  }
  Rep::Submission s;
  s.counters = std::move(updates);
  s.done = [done = std::move(done)](Status status, uint64_t) { done(std::move(status)); };
  rep.Submit(std::move(s));
}

Store::GroupCommitStats Store::GetGroupCommitStats() const {
  GroupCommitStats stats{rep_->stat_groups.load(std::memory_order_relaxed),
                         rep_->stat_submissions.load(std::memory_order_relaxed), 0};
  std::lock_guard<std::mutex> lock(rep_->queue_mu);
  stats.queued = rep_->queue.size();
  return stats;
}

Status Store::CheckpointHealth() const {
  std::lock_guard<std::mutex> lock(rep_->commit_mu);
  return rep_->checkpoint_pending ? rep_->checkpoint_status : OkStatus();
}

}  // namespace simkms::storage
