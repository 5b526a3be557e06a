// The AuC's RANDs, drawn from the token in batches: one C_GenerateRandom fills a
// pool that the next requests' RANDs are taken from (each byte once), instead of
// one call per request. Every token call takes SoftHSM's locks; a RAND is sent to
// the network in clear with its vector, and its only requirement is that nobody can
// predict it before that (TS 33.102 §6.3.2), which a pool in kmsd's memory keeps
// (the pool is wiped when kmsd stops). Thread-safe: a refill runs under the pool's
// lock, so the few requests that ask meanwhile wait for it rather than each
// drawing its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>

#include "base/secret_array.h"
#include "base/status.h"
#include "pkcs11/session.h"

namespace simkms::sc {

class RandPool {
 public:
  // 256 RANDs: a refill serves about 50 requests of 5 vectors.
  static constexpr std::size_t kBytes = 4096;

  // Fills `out` (at most kBytes) with bytes from the token's generator that no
  // other caller gets; a refill (one C_GenerateRandom on `session`) when the pool
  // has fewer left. A refill's error is returned and nothing is taken.
  Status Take(p11::Session& session, std::span<uint8_t> out);

  uint64_t refills() const;

 private:
  mutable std::mutex mu_;
  SecretArray<kBytes> pool_;  // guarded by mu_; bytes [0, left_) not yet handed out
  std::size_t left_ = 0;      // guarded by mu_
  uint64_t refills_ = 0;      // guarded by mu_
};

}  // namespace simkms::sc
