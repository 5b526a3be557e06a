// ETSI TS 102 225 command packets as simkms uses them (docs/protocol.md §2):
// SPI 16 00 (CC, ciphering, counter must be higher, no PoR), KIc/KID = AES-CBC /
// AES-CMAC with a key version, TAR of the personalization applet, 8-byte CC.
//
// Seal and Open are pure functions of their inputs and the OtaCipher; replay
// protection needs the caller's last accepted counter, and the caller stores
// the new one only once the whole message has been acted on.
#pragma once

#include <array>
#include <cstdint>

#include "base/bytes.h"
#include "base/status.h"
#include "sc-engine/protocol/ota_cipher.h"

namespace simkms::protocol {

inline constexpr std::array<uint8_t, 3> kPersonalizationTar = {0xB2, 0x4B, 0x01};
inline constexpr uint8_t kKeyVersionKi1 = 1;  // OTA keys derived from Ki_1 (first call)
inline constexpr uint8_t kKeyVersionKi2 = 2;  // OTA keys derived from the current Ki_2 (re-key)
inline constexpr std::size_t kCcSize = 8;
inline constexpr std::size_t kHeaderSize = 24;     // CPL .. CC
inline constexpr std::size_t kMaxPacketSize = 2048;
inline constexpr uint64_t kMaxCounter = (uint64_t{1} << 40) - 1;

// What can be read without keys: the key version (to pick the keys) and the TAR.
struct PacketRouting {
  uint8_t key_version = 0;
  std::array<uint8_t, 3> tar{};
};
StatusOr<PacketRouting> PeekRouting(ByteView packet);

// Builds a packet around `message` with the given counter (<= kMaxCounter).
StatusOr<Bytes> SealPacket(OtaCipher& cipher, uint8_t key_version, uint64_t counter, ByteView message);

struct OpenedPacket {
  uint8_t key_version = 0;
  uint64_t counter = 0;
  Bytes message;
};
// Checks structure, CC (constant time) and that counter > last_counter. Errors:
// InvalidArgument (malformed), Unauthenticated (CC), FailedPrecondition (replayed
// or old counter). Never says more than that about a packet that fails its CC.
StatusOr<OpenedPacket> OpenPacket(OtaCipher& cipher, ByteView packet, uint64_t last_counter);

}  // namespace simkms::protocol
