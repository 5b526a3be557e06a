// FaultyKvEngine: a KvEngine (over a real one, e.g. RocksDB) whose transactions can be
// made to fail the way a replicated database fails -- a Commit Aborted by a
// serialization conflict, or Unavailable during a failover, in both cases writing
// nothing -- and BeginTransaction and Snapshot likewise, for the Store's commit-retry
// tests.
// between_attempts lets a test play "another node" and change the DB between a failed
// attempt and the next.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <utility>

#include "base/status.h"
#include "storage/kv_engine.h"
#include "storage/kv_engine_wrapper.h"

namespace simkms::storage::testing {

class FaultyKvEngine : public KvEngineWrapper {
 public:
  explicit FaultyKvEngine(std::unique_ptr<KvEngine> inner) : KvEngineWrapper(*inner), inner_(std::move(inner)) {}

  // The next n Commit calls return `error` (Aborted or Unavailable) and write nothing.
  void FailCommits(int n, Status error) {
    std::lock_guard<std::mutex> lock(mu_);
    commits_to_fail_ = n;
    commit_error_ = std::move(error);
  }
  // The next n BeginTransaction calls return `error`.
  void FailBegins(int n, Status error) {
    std::lock_guard<std::mutex> lock(mu_);
    begins_to_fail_ = n;
    begin_error_ = std::move(error);
  }
  // The next n Snapshot calls return `error` (a read that cannot reach the DB).
  void FailSnapshots(int n, Status error) {
    std::lock_guard<std::mutex> lock(mu_);
    snapshots_to_fail_ = n;
    snapshot_error_ = std::move(error);
  }
  // Runs on the inner engine at the first BeginTransaction after a failed Commit, i.e.
  // between two attempts at one commit group (then is cleared).
  void SetBetweenAttempts(std::function<void(KvEngine& inner)> change) {
    std::lock_guard<std::mutex> lock(mu_);
    between_attempts_ = std::move(change);
  }
  int failed_commits() const {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_commits_;
  }
  int failed_begins() const {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_begins_;
  }
  int failed_snapshots() const {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_snapshots_;
  }
  int commits() const {  // that reached the inner engine
    std::lock_guard<std::mutex> lock(mu_);
    return commits_;
  }

  StatusOr<std::unique_ptr<KvView>> Snapshot() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (snapshots_to_fail_ > 0) {
        --snapshots_to_fail_;
        ++failed_snapshots_;
        return snapshot_error_;
      }
    }
    return inner_->Snapshot();
  }

  StatusOr<std::unique_ptr<KvTransaction>> BeginTransaction() override {
    std::function<void(KvEngine&)> change;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (begins_to_fail_ > 0) {
        --begins_to_fail_;
        ++failed_begins_;
        return begin_error_;
      }
      if (commit_failed_since_begin_ && between_attempts_) change = std::exchange(between_attempts_, nullptr);
      commit_failed_since_begin_ = false;
    }
    if (change) change(*inner_);
    SIMKMS_ASSIGN_OR_RETURN(std::unique_ptr<KvTransaction> txn, inner_->BeginTransaction());
    return std::unique_ptr<KvTransaction>(std::make_unique<Transaction>(*this, std::move(txn)));
  }

 private:
  class Transaction : public KvTransactionWrapper {
   public:
    Transaction(FaultyKvEngine& engine, std::unique_ptr<KvTransaction> inner)
        : KvTransactionWrapper(std::move(inner)), engine_(engine) {}
    Status Commit() override {
      {
        std::lock_guard<std::mutex> lock(engine_.mu_);
        if (engine_.commits_to_fail_ > 0) {
          --engine_.commits_to_fail_;
          ++engine_.failed_commits_;
          engine_.commit_failed_since_begin_ = true;
          return engine_.commit_error_;  // the inner transaction is abandoned: nothing written
        }
        ++engine_.commits_;
      }
      return KvTransactionWrapper::Commit();
    }

   private:
    FaultyKvEngine& engine_;
  };

  std::unique_ptr<KvEngine> inner_;
  mutable std::mutex mu_;
  int commits_to_fail_ = 0;
  Status commit_error_;
  int begins_to_fail_ = 0;
  Status begin_error_;
  int snapshots_to_fail_ = 0;
  Status snapshot_error_;
  int failed_snapshots_ = 0;
  bool commit_failed_since_begin_ = false;
  std::function<void(KvEngine&)> between_attempts_;
  int failed_commits_ = 0;
  int failed_begins_ = 0;
  int commits_ = 0;
};

}  // namespace simkms::storage::testing
