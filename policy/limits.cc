#include "policy/limits.h"

#include <string>

namespace simkms::policy {

Status ValidateLimits(const Limits& l) {
  if (l.activation_code_max_tries < 1 || l.activation_code_max_tries > kMaxActivationCodeTriesCeiling) {
    return InvalidArgumentError("limits: activation_code_max_tries must be 1.." +
                                std::to_string(kMaxActivationCodeTriesCeiling) + ", got " +
                                std::to_string(l.activation_code_max_tries));
  }
  if (l.activation_code_min_digits < kActivationCodeDigitsFloor ||
      l.activation_code_max_digits > kActivationCodeDigitsCeiling ||
      l.activation_code_min_digits > l.activation_code_max_digits) {
    return InvalidArgumentError("limits: activation code length must satisfy " +
                                std::to_string(kActivationCodeDigitsFloor) + " <= min <= max <= " +
                                std::to_string(kActivationCodeDigitsCeiling) + ", got " +
                                std::to_string(l.activation_code_min_digits) + ".." +
                                std::to_string(l.activation_code_max_digits));
  }
  if (l.max_vectors_per_request < 1 || l.max_vectors_per_request > kGsupMaxVectors) {
    return InvalidArgumentError("limits: max_vectors_per_request must be 1.." +
                                std::to_string(kGsupMaxVectors) + ", got " +
                                std::to_string(l.max_vectors_per_request));
  }
  if (l.clone_alarm_interval_seconds > kCloneAlarmIntervalCeiling) {
    return InvalidArgumentError("limits: clone_alarm_interval_seconds must be 0.." +
                                std::to_string(kCloneAlarmIntervalCeiling) + ", got " +
                                std::to_string(l.clone_alarm_interval_seconds));
  }
  if (l.clone_alarm_memory < kCloneAlarmMemoryFloor || l.clone_alarm_memory > kCloneAlarmMemoryCeiling) {
    return InvalidArgumentError("limits: clone_alarm_memory must be " + std::to_string(kCloneAlarmMemoryFloor) +
                                ".." + std::to_string(kCloneAlarmMemoryCeiling) + ", got " +
                                std::to_string(l.clone_alarm_memory));
  }
  return OkStatus();
}

Status CheckActivationCodeFormat(std::string_view code, const Limits& l) {
  if (code.size() < l.activation_code_min_digits || code.size() > l.activation_code_max_digits) {
    return InvalidArgumentError("activation code must have " + std::to_string(l.activation_code_min_digits) +
                                ".." + std::to_string(l.activation_code_max_digits) + " digits, got " +
                                std::to_string(code.size()));
  }
  for (char c : code) {
    if (c < '0' || c > '9') return InvalidArgumentError("activation code must contain only decimal digits");
  }
  return OkStatus();
}

uint32_t VectorsToGenerate(uint32_t requested, const Limits& l) {
  if (requested == 0 || requested > l.max_vectors_per_request) return l.max_vectors_per_request;
  return requested;
}

}  // namespace simkms::policy
