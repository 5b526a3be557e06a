#include "sc-engine/engine/hlr_service.h"

namespace simkms::sc {

Status HlrService::CheckContracted(const std::string& imsi) const {
  auto record = store_.GetSubscriber(imsi);
  if (!record.ok()) return record.status();
  return OkStatus();
}

StatusOr<std::string> HlrService::UpdateLocation(const std::string& imsi, CnDomain domain, const std::string& peer,
                                                 const std::string& via_proxy) {
  auto record = store_.GetSubscriber(imsi);
  if (!record.ok()) {
    if (record.status().code() == StatusCode::kNotFound) {
      std::lock_guard lock(mu_);
      locations_.erase(imsi);
    }
    return record.status();
  }
  std::lock_guard lock(mu_);
  std::optional<DomainLocation>* slot = SlotLocked(imsi, domain);
  if (!slot) return record->msisdn;
  // The purged flag stays as it was: osmo-hlr 1.5 does not reset it on a
  // location update ("TODO: Reset Flag MS Purged" in its lu_fsm.c).
  const bool purged = *slot && (*slot)->purged;
  *slot = DomainLocation{peer, via_proxy, purged};
  return record->msisdn;
}

Status HlrService::PurgeMs(const std::string& imsi, CnDomain domain) {
  SIMKMS_RETURN_IF_ERROR(CheckContracted(imsi));
  std::lock_guard lock(mu_);
  std::optional<DomainLocation>* slot = SlotLocked(imsi, domain);
  if (!slot) return OkStatus();
  if (!*slot) slot->emplace();  // purged where it was never seen: the flag alone, as osmo-hlr's column
  (*slot)->purged = true;
  return OkStatus();
}

Status HlrService::CheckImei(const std::string& imsi) const { return CheckContracted(imsi); }

std::optional<DomainLocation>* HlrService::SlotLocked(const std::string& imsi, CnDomain domain) {
  auto it = locations_.find(imsi);
  if (it == locations_.end()) {
    if (locations_.size() >= max_subscribers_) {
      ++dropped_;
      return nullptr;
    }
    it = locations_.emplace(imsi, SubscriberLocation{}).first;
  }
  return domain == CnDomain::kCs ? &it->second.cs : &it->second.ps;
}

std::optional<SubscriberLocation> HlrService::Location(const std::string& imsi) const {
  std::lock_guard lock(mu_);
  auto it = locations_.find(imsi);
  if (it == locations_.end()) return std::nullopt;
  return it->second;
}

std::size_t HlrService::locations_kept() const {
  std::lock_guard lock(mu_);
  return locations_.size();
}

uint64_t HlrService::locations_dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

}  // namespace simkms::sc
