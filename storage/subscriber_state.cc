#include "storage/subscriber_state.h"

namespace simkms::storage {

std::string_view SubscriberStateName(SubscriberState state) {
  switch (state) {
    case SubscriberState::kContracted: return "CONTRACTED";
    case SubscriberState::kPersonalized: return "PERSONALIZED";
    case SubscriberState::kRekeyPending: return "REKEY_PENDING";
    case SubscriberState::kLocked: return "LOCKED";
  }
  return "UNKNOWN";
}

}  // namespace simkms::storage
