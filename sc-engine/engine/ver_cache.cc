#include "sc-engine/engine/ver_cache.h"

#include <utility>

namespace simkms::sc {

StatusOr<std::shared_ptr<const storage::VerRecord>> VerCache::Get(uint32_t ver) {
  {
    std::lock_guard lock(mu_);
    if (auto it = vers_.find(ver); it != vers_.end()) return it->second;
  }
  SIMKMS_ASSIGN_OR_RETURN(storage::VerRecord record, store_.GetVer(ver));
  auto kept = std::make_shared<const storage::VerRecord>(std::move(record));
  std::lock_guard lock(mu_);
  // Past the bound (never reached by a real operator): the oldest number goes.
  if (vers_.size() >= kMaxVers && vers_.count(ver) == 0) vers_.erase(vers_.begin());
  return vers_.emplace(ver, std::move(kept)).first->second;
}

}  // namespace simkms::sc
