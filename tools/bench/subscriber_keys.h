// Bench-only provisioning of a second AuC (osmo-hlr) for ac-bench's comparison
// (scripts/bench.sh, docs/performance.md): the subscriber keys that sc-bench's
// simulated chips hold after their calls, written as "imsi,ki2_hex,opc_hex" lines.
//
// This is the only place a Ki_2 leaves its holder in clear: the simulated chips
// know these keys anyway (as a chip image does), and the peer AuC needs K/OPc.
// The file is created new (O_EXCL, mode 0600) and belongs in the bench's
// throwaway state dir only; never point it at a real appliance's subscribers.
#pragma once

#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "sc-engine/protocol/chip_role.h"

namespace simkms::bench {

// One line per chip in `chips` (the caller passes only personalized ones):
// IMSI, the current base key (Ki_2) and OPc = OP xor AES_Ki2(OP), in lower-case hex.
// AlreadyExists if `path` exists; nothing is written then.
Status WriteSubscriberKeys(const std::string& path, const std::vector<const protocol::ChipProtocolState*>& chips);

// A line of such a file; K and OPc 16 bytes each.
struct SubscriberKey {
  std::string imsi;
  SecretBytes k;
  SecretBytes opc;
};
// Reads lines "imsi" or "imsi,k_hex,opc_hex" (blank lines ignored); `need_keys`
// makes a line without keys an error. InvalidArgument names the bad line.
StatusOr<std::vector<SubscriberKey>> ReadSubscribers(const std::string& path, bool need_keys);

}  // namespace simkms::bench
