// What a Ki_1 holder (a copy of a chip made before its first call, or anyone
// with a leaked K1) can put on the air: any protocol message under Ki_1's OTA
// keys, with any CNTR. For the counter and clone-alarm tests of tests/sc and
// tests/e2e (docs/protocol.md §2, §6).
#pragma once

#include <string>
#include <variant>

#include "base/status.h"
#include "sc-engine/protocol/chip_role.h"
#include "sc-engine/protocol/messages.h"
#include "sc-engine/protocol/secured_packet.h"
#include "sc-engine/protocol/software_session.h"

namespace simkms::testing {

// `m` sealed under the OTA keys of `ki1_chip.base_key` (a chip still on Ki_1) with CNTR `counter`.
inline StatusOr<Bytes> SealUnderKi1(const protocol::ChipProtocolState& ki1_chip, uint64_t counter,
                                    const protocol::Message& m) {
  SIMKMS_ASSIGN_OR_RETURN(protocol::OtaCiphers ota, protocol::DeriveOtaCiphers(ki1_chip.base_key));
  return protocol::SealPacket(ota.up, protocol::kKeyVersionKi1, counter, protocol::Encode(m));
}

// The HELLO a chip on Ki_1 would send next (its state is not changed), as a
// message to alter and seal again with SealUnderKi1.
inline StatusOr<protocol::Hello> NextKi1Hello(protocol::ChipProtocolState ki1_chip) {
  protocol::ChipRole role([] { return StatusOr<std::string>(std::string()); });
  SIMKMS_ASSIGN_OR_RETURN(Bytes packet, role.Start(ki1_chip));
  SIMKMS_ASSIGN_OR_RETURN(protocol::OtaCiphers ota, protocol::DeriveOtaCiphers(ki1_chip.base_key));
  SIMKMS_ASSIGN_OR_RETURN(protocol::OpenedPacket opened, protocol::OpenPacket(ota.up, packet, 0));
  SIMKMS_ASSIGN_OR_RETURN(protocol::Message message, protocol::Decode(opened.message));
  if (!std::holds_alternative<protocol::Hello>(message)) return InternalError("the chip's first packet is no HELLO");
  return std::get<protocol::Hello>(std::move(message));
}

}  // namespace simkms::testing
