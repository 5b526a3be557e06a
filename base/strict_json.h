// The one way kmsd reads JSON from outside (operator API bodies, admin commands
// (sc-engine/engine/admin_commands.h), the configuration): stricter than nlohmann's defaults where they
// would let two readers disagree or a value change on the way in.
//  - A key given twice in one object is refused (nlohmann keeps the last one
//    silently; another parser in front of kmsd may keep the first).
//  - An integer is range-checked against its target type BEFORE narrowing
//    (4294967299 is not VER 3; -1 is not 4294967295); a float, bool or string
//    where an integer belongs is refused.
//  - Free text (order ids, names, descriptions) refuses control characters:
//    C0 (< 0x20), DEL and the C1 range (U+0080..U+009F), which would otherwise
//    reach logs and terminals raw (forged lines, ANSI escape sequences).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/status.h"

namespace simkms {

// InvalidArgument "<what> is not valid JSON" / "<what>: key 'k' appears twice".
StatusOr<nlohmann::ordered_json> ParseStrictJson(std::string_view text, const std::string& what,
                                                 bool allow_comments = false);

// InvalidArgument "<what> contains a control character" if `text` has one.
Status CheckFreeText(std::string_view text, const std::string& what);

// Converts one JSON value to T (an integer type, bool, std::string, or a
// vector / string-keyed map of those), every integer range-checked before
// narrowing. InvalidArgument naming `what` on the wrong type or range.
template <typename T>
Status FromJson(const nlohmann::ordered_json& j, T* out, const std::string& what);

namespace strict_json_internal {
template <typename T>
struct IsVector : std::false_type {};
template <typename U>
struct IsVector<std::vector<U>> : std::true_type {};
template <typename T>
struct IsStringMap : std::false_type {};
template <typename U>
struct IsStringMap<std::map<std::string, U>> : std::true_type {};
}  // namespace strict_json_internal

template <typename T>
Status FromJson(const nlohmann::ordered_json& j, T* out, const std::string& what) {
  using namespace strict_json_internal;
  if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) return InvalidArgumentError(what + " must be true or false");
    *out = j.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    const std::string range =
        std::to_string(std::numeric_limits<T>::min()) + ".." + std::to_string(std::numeric_limits<T>::max());
    if (j.is_number_unsigned()) {
      const uint64_t v = j.get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
        return InvalidArgumentError(what + " must be an integer " + range);
      }
      *out = static_cast<T>(v);
    } else if (j.is_number_integer()) {  // negative
      const int64_t v = j.get<int64_t>();
      if constexpr (std::is_unsigned_v<T>) {
        return InvalidArgumentError(what + " must be an integer " + range);
      } else {
        if (v < static_cast<int64_t>(std::numeric_limits<T>::min())) {
          return InvalidArgumentError(what + " must be an integer " + range);
        }
        *out = static_cast<T>(v);
      }
    } else {
      return InvalidArgumentError(what + " must be an integer " + range);
    }
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) return InvalidArgumentError(what + " must be a string");
    *out = j.get<std::string>();
  } else if constexpr (IsVector<T>::value) {
    if (!j.is_array()) return InvalidArgumentError(what + " must be a list");
    T values;
    for (std::size_t i = 0; i < j.size(); ++i) {
      typename T::value_type v{};
      SIMKMS_RETURN_IF_ERROR(FromJson(j[i], &v, what + "[" + std::to_string(i) + "]"));
      values.push_back(std::move(v));
    }
    *out = std::move(values);
  } else if constexpr (IsStringMap<T>::value) {
    if (!j.is_object()) return InvalidArgumentError(what + " must be an object");
    T values;
    for (const auto& [key, value] : j.items()) {
      typename T::mapped_type v{};
      SIMKMS_RETURN_IF_ERROR(FromJson(value, &v, what + "." + key));
      values.emplace(key, std::move(v));
    }
    *out = std::move(values);
  } else {
    static_assert(sizeof(T) == 0, "FromJson: unsupported type");
  }
  return OkStatus();
}

}  // namespace simkms
