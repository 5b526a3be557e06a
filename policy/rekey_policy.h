// The bounds of a VER's regular re-key policy (docs/lifecycle.md, "Regular re-key";
// stored as storage::RekeyPolicy) and when a Ki_2 is due under it. Pure functions,
// thread-safe.
#pragma once

#include <cstdint>

#include "base/status.h"

namespace simkms::policy {

// Hard bounds of a policy, whatever the operator asks for. The age floor is one
// second so that a test can watch a campaign run; what keeps a short age from
// flooding the chips and the token is the rate, which is bounded below.
inline constexpr uint64_t kRekeyMaxAgeFloor = 1;
inline constexpr uint64_t kRekeyMaxAgeCeiling = uint64_t{20} * 366 * 24 * 3600;  // twenty years
// A re-key request is one audited commit and, later, one OTA session of the SC.
inline constexpr uint32_t kRekeyPerSecondCeiling = 1000;
inline constexpr uint32_t kRekeyPerDayCeiling = 10'000'000;

// OK for "no policy" (all three zero) or a policy within the bounds above;
// otherwise InvalidArgument naming the value and its bounds.
[[nodiscard]] Status CheckRekeyPolicy(uint64_t max_ki2_age_seconds, uint32_t per_second, uint32_t per_day);

// Whether a Ki_2 committed at `ki2_made_at` (unix seconds) is due for a re-key at
// `now` under a maximum age of `max_ki2_age_seconds` (0: no policy, never due).
// A Ki_2 from the future (a clock set back) is not due.
[[nodiscard]] bool Ki2Due(int64_t ki2_made_at, int64_t now, uint64_t max_ki2_age_seconds);

}  // namespace simkms::policy
