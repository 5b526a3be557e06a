// The persisted lifecycle state of a subscriber record. The legal transitions are
// policy's business (policy/lifecycle.h); storage only keeps the value.
#pragma once

#include <cstdint>
#include <string_view>

namespace simkms::storage {

// Values are persisted: never renumber.
enum class SubscriberState : uint8_t {
  kContracted = 1,     // contract signed, hotline set, Ki_1 active, first call awaited
  kPersonalized = 2,   // Ki_2 negotiated and verified, hotline cleared
  kRekeyPending = 3,   // operator asked for a new Ki_2; hotline set, Ki_2 still active
  kLocked = 4,         // activation code tried too often; only the operator can act
};

std::string_view SubscriberStateName(SubscriberState state);

}  // namespace simkms::storage
