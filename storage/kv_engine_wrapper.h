// KvEngineWrapper and KvTransactionWrapper: a KvEngine / KvTransaction that forwards
// every call to another (LevelDB's EnvWrapper style). Derive and override the calls to
// change -- fault injection in tests, counting, tracing -- and the rest keeps working
// unchanged as the interface grows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/status.h"
#include "storage/kv_engine.h"

namespace simkms::storage {

class KvEngineWrapper : public KvEngine {
 public:
  // `target` is not owned and must outlive the wrapper.
  explicit KvEngineWrapper(KvEngine& target) : target_(target) {}
  KvEngine& target() const { return target_; }

  std::string Describe() const override { return target_.Describe(); }
  StatusOr<std::optional<std::string>> Get(Cf cf, std::string_view key) override { return target_.Get(cf, key); }
  StatusOr<std::unique_ptr<KvView>> Snapshot() override { return target_.Snapshot(); }
  StatusOr<std::unique_ptr<KvTransaction>> BeginTransaction() override { return target_.BeginTransaction(); }
  Status Purge(const std::map<Cf, std::pair<std::string, std::string>>& ranges) override {
    return target_.Purge(ranges);
  }
  StatusOr<uint64_t> CountKeys(Cf cf) override { return target_.CountKeys(cf); }

 private:
  KvEngine& target_;
};

class KvTransactionWrapper : public KvTransaction {
 public:
  explicit KvTransactionWrapper(std::unique_ptr<KvTransaction> target) : target_(std::move(target)) {}
  KvTransaction& target() const { return *target_; }

  StatusOr<std::optional<std::string>> Get(Cf cf, std::string_view key) override { return target_->Get(cf, key); }
  std::unique_ptr<KvIterator> NewIterator(Cf cf) override { return target_->NewIterator(cf); }
  void Put(Cf cf, std::string_view key, std::string_view value) override { target_->Put(cf, key, value); }
  void Delete(Cf cf, std::string_view key) override { target_->Delete(cf, key); }
  void SetSavePoint() override { target_->SetSavePoint(); }
  void RollbackToSavePoint() override { target_->RollbackToSavePoint(); }
  void PopSavePoint() override { target_->PopSavePoint(); }
  std::size_t DataSize() const override { return target_->DataSize(); }
  Status Commit() override { return target_->Commit(); }

 private:
  std::unique_ptr<KvTransaction> target_;
};

}  // namespace simkms::storage
