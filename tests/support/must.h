// For test fixtures that set up outside a TEST body (constructors, where ASSERT_*
// cannot return): the value of `v`, or a std::runtime_error naming `what` and the
// error, which fails the test that constructed the fixture.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include "base/status.h"

namespace simkms::testing {

template <typename T>
T Must(StatusOr<T> v, const std::string& what) {
  if (!v.ok()) throw std::runtime_error(what + ": " + v.status().ToString());
  return std::move(v).value();
}

inline void Must(const Status& s, const std::string& what) {
  if (!s.ok()) throw std::runtime_error(what + ": " + s.ToString());
}

}  // namespace simkms::testing
