#include "policy/rekey_policy.h"

#include <string>

namespace simkms::policy {
namespace {

Status CheckBound(std::string_view what, uint64_t value, uint64_t floor, uint64_t ceiling) {
  if (value >= floor && value <= ceiling) return OkStatus();
  return InvalidArgumentError("re-key policy: " + std::string(what) + " " + std::to_string(value) + " is not in " +
                              std::to_string(floor) + ".." + std::to_string(ceiling));
}

}  // namespace

Status CheckRekeyPolicy(uint64_t max_ki2_age_seconds, uint32_t per_second, uint32_t per_day) {
  if (max_ki2_age_seconds == 0) {
    if (per_second == 0 && per_day == 0) return OkStatus();
    return InvalidArgumentError("re-key policy: a maximum Ki_2 age of 0 means no policy, so the rates must be 0 too "
                                "(got " + std::to_string(per_second) + "/s, " + std::to_string(per_day) + "/day)");
  }
  SIMKMS_RETURN_IF_ERROR(CheckBound("maximum Ki_2 age (seconds)", max_ki2_age_seconds, kRekeyMaxAgeFloor,
                                    kRekeyMaxAgeCeiling));
  SIMKMS_RETURN_IF_ERROR(CheckBound("requests per second", per_second, 1, kRekeyPerSecondCeiling));
  return CheckBound("requests per day", per_day, 1, kRekeyPerDayCeiling);
}

bool Ki2Due(int64_t ki2_made_at, int64_t now, uint64_t max_ki2_age_seconds) {
  if (max_ki2_age_seconds == 0 || now < ki2_made_at) return false;
  return static_cast<uint64_t>(now - ki2_made_at) >= max_ki2_age_seconds;
}

}  // namespace simkms::policy
