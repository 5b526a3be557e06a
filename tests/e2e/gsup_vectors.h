// What the end-to-end tests of the AuC need of the vectors a node hands out
// (the request itself is gsup::MakeSendAuthInfoRequest): an MSC asking under load, and the chip's side of a
// tuple (does AUTN verify under the chip's keys, and which SQN does it carry),
// so that a test can say that no SQN was issued twice under one key.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "sc-engine/gsup/gsup.h"

namespace simkms::e2e {

// An MSC named `name` on the AuC listener at 127.0.0.1:`port`, asking for two
// vectors of each of `imsis` in turn until `done()`; it reconnects when the link
// drops or an answer does not come (a node or its database away). Every answer's
// tuples go to `record` (from this thread).
void RunMsc(uint16_t port, const std::string& name, const std::vector<std::string>& imsis,
            const std::function<bool()>& done,
            const std::function<void(const std::string& imsi, const std::vector<gsup::AuthTuple>&)>& record);

// The chip's side of a GSUP tuple under `key`/`opc`: the SQN it carries if AUTN
// verifies (and RES is the vector's XRES), else nullopt.
std::optional<uint64_t> SqnOnChip(const SecretBytes& key, const SecretBytes& opc, const gsup::AuthTuple& t);

}  // namespace simkms::e2e
