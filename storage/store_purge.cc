// Purge of deleted keys.
//
// A deleted key is gone from the engine's view at once, but its bytes may stay in
// the files that held it (RocksDB: the WAL file that logged it and table files until
// a bottommost compaction; PostgreSQL: dead tuples until VACUUM). For a wrapped Ki_2
// that is a secret the docs say is gone once its subscriber is terminated, so a thread
// of its own, every purge_interval, asks the engine to purge the deleted key ranges
// (KvEngine::Purge; docs/storage-format.md, "Purge of deleted keys").
#include "storage/store.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <variant>

#include "storage/store_internal.h"
#include "storage/write_set_internal.h"

namespace simkms::storage {

void Store::Rep::NotePurgeLocked(const WriteSet& writes) {
  auto note = [this](Cf c, const std::string& key) {
    std::lock_guard<std::mutex> lock(purge_mu);
    auto [it, fresh] = purge_ranges.try_emplace(c, key, key);
    if (!fresh) {
      it->second.first = std::min(it->second.first, key);
      it->second.second = std::max(it->second.second, key);
    }
  };
  for (const WriteSet::Op& operation : writes.ops()) {
    if (const auto* d = std::get_if<op::DeleteWrappedKey>(&operation.v)) note(kWrappedKeys, d->key_id);
    if (const auto* d = std::get_if<op::DeleteSubscriber>(&operation.v)) note(kSubscribers, d->imsi);
  }
}

void Store::Rep::PurgeLoop() {
  std::unique_lock<std::mutex> lock(purge_mu);
  for (;;) {
    purge_cv.wait_for(lock, purge_interval, [this] { return purge_stopping; });
    if (purge_ranges.empty()) {
      if (purge_stopping) return;
      continue;
    }
    auto ranges = std::move(purge_ranges);
    purge_ranges.clear();
    lock.unlock();
    const Status s = engine->Purge(ranges);
    lock.lock();
    if (s.ok()) {
      purges_completed.fetch_add(1, std::memory_order_relaxed);
    } else {
      purges_failed.fetch_add(1, std::memory_order_relaxed);
      for (const auto& [c, range] : ranges) {  // retried at the next interval
        auto [it, fresh] = purge_ranges.try_emplace(c, range);
        if (!fresh) {
          it->second.first = std::min(it->second.first, range.first);
          it->second.second = std::max(it->second.second, range.second);
        }
      }
      if (purge_stopping) return;
    }
  }
}

void Store::Rep::StopPurger() {
  {
    std::lock_guard<std::mutex> lock(purge_mu);
    purge_stopping = true;
  }
  purge_cv.notify_all();
  if (purger.joinable()) purger.join();
}

Store::PurgeStats Store::GetPurgeStats() const {
  PurgeStats stats;
  stats.completed = rep_->purges_completed.load(std::memory_order_relaxed);
  stats.failed = rep_->purges_failed.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(rep_->purge_mu);
  stats.pending = !rep_->purge_ranges.empty();
  return stats;
}

}  // namespace simkms::storage
