// Operational limits of the appliance, with the defaults the product ships with.
//
// A Limits value is plain data: the daemon fills it from its config file and must run
// ValidateLimits() before using it (an unsafe value refuses start-up). Every function
// here is pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/status.h"

namespace simkms::policy {

struct Limits {
  // Failed activation-code tries before the record goes to LOCKED (misuse 1.3). With
  // 6 digits and 3 tries a guessing clone wins with probability 3e-6 per contract.
  uint32_t activation_code_max_tries = 3;
  // Activation codes are decimal digits printed on the order document.
  std::size_t activation_code_min_digits = 6;
  std::size_t activation_code_max_digits = 16;
  // Authentication vectors per request: 5 is the GSUP maximum
  // (OSMO_GSUP_MAX_NUM_AUTH_INFO); a request for 0 means "the maximum".
  uint32_t max_vectors_per_request = 5;
  // Clone alarms (misuse 1.2, docs/protocol.md §6). The same packet raises one
  // alarm ever; distinct ones are audited at most once per subscriber per this
  // many seconds (0: every one), the rest counted in the metric and in the next
  // audited alarm. A holder of a leaked K1 can make any number of distinct
  // packets: without this, each would be an audit record.
  uint32_t clone_alarm_interval_seconds = 3600;
  // Distinct alarms (key version, CNTR) remembered per subscriber to recognise
  // a replay; the oldest is forgotten first. 8 bytes each in the record.
  uint32_t clone_alarm_memory = 256;
};

// Hard bounds ValidateLimits() enforces, whatever the config says.
inline constexpr uint32_t kMaxActivationCodeTriesCeiling = 10;
inline constexpr std::size_t kActivationCodeDigitsFloor = 6;
inline constexpr std::size_t kActivationCodeDigitsCeiling = 16;
inline constexpr uint32_t kGsupMaxVectors = 5;
inline constexpr uint32_t kCloneAlarmIntervalCeiling = 7 * 24 * 3600;  // a week
inline constexpr uint32_t kCloneAlarmMemoryFloor = 16;
inline constexpr uint32_t kCloneAlarmMemoryCeiling = 4096;  // storage::CloneAlarmLog::kMaxEntries

// OK when every field lies within the hard bounds above and min <= max; otherwise
// InvalidArgument naming the field.
[[nodiscard]] Status ValidateLimits(const Limits& limits);

// OK when `code` is all decimal digits and its length lies within the limits. The
// message never contains the code (it is a secret shared with the customer).
[[nodiscard]] Status CheckActivationCodeFormat(std::string_view code, const Limits& limits);

// The number of vectors to generate for a request of `requested`: 0 or more than the
// maximum yields the maximum, as osmo-hlr does (no error, a peer may ask for 7).
[[nodiscard]] uint32_t VectorsToGenerate(uint32_t requested, const Limits& limits);

}  // namespace simkms::policy
