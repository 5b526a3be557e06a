#include "sc-engine/engine/rand_pool.h"

#include <algorithm>
#include <string>

namespace simkms::sc {

Status RandPool::Take(p11::Session& session, std::span<uint8_t> out) {
  if (out.size() > kBytes) {
    return InvalidArgumentError("RAND pool: " + std::to_string(out.size()) + " bytes asked, at most " +
                                std::to_string(kBytes));
  }
  std::lock_guard lock(mu_);
  if (left_ < out.size()) {
    left_ = 0;
    SIMKMS_RETURN_IF_ERROR(session.GenerateRandom(pool_.mutable_data(), kBytes).WithContext("refill the RAND pool"));
    left_ = kBytes;
    ++refills_;
  }
  left_ -= out.size();
  std::copy_n(pool_.reveal().begin() + static_cast<std::ptrdiff_t>(left_), out.size(), out.begin());
  return OkStatus();
}

uint64_t RandPool::refills() const {
  std::lock_guard lock(mu_);
  return refills_;
}

}  // namespace simkms::sc
