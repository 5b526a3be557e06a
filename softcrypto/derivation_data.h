// The byte layouts fed to the key-derivation mechanisms. Shared by the token side
// (kms/) and the software side (the chip simulator and the manufacturer's tool),
// because the chip must compute exactly the same function. docs/key-derivation.md
// describes them with test vectors.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace simkms::kms {

// VER profiles: the patent's 8-byte single-DES K1 (weak, kept for fidelity) or AES-128.
enum class Profile : uint8_t { kLegacy = 1, kModern = 2 };
std::string_view ProfileName(Profile profile);
StatusOr<Profile> ParseProfile(std::string_view name);

// What a key derived from the master key is for. Values are part of the
// derivation input: never renumber.
enum class KeyPurpose : uint8_t {
  kStorageKek = 0x01,  // wraps Ki_2 blobs (AES-256, AES-KWP: kms/aes_kwp.h)
  kAuditMac = 0x02,    // retired (the audit trail MACs with epoch keys, kms/audit_epochs.h); never reuse
  kPukEncryption = 0x03,  // AES-256-GCM over stored PUKs
  kOpEncryption = 0x04,   // AES-256-GCM over each VER's Milenage OP
  kRecordMac = 0x05,      // HMAC-SHA256 over stored records (generic secret, 32 bytes)
  kK1Legacy = 0x10,    // K1 of a legacy VER (DES, 8 bytes)
  kK1Modern = 0x11,    // K1 of a modern VER (AES-128)
};

using DerivationBlock = std::array<uint8_t, 16>;

// One 16-byte block of master-key derivation input:
//   "SKMS" | purpose (1) | 0x00 | context (8, big-endian; the VER for K1, else 0) | counter (2, big-endian)
// A key of n*16 bytes is AES-ECB_MK over the blocks with counter 1..n.
DerivationBlock MasterDerivationBlock(KeyPurpose purpose, uint64_t context, uint16_t counter);
// The concatenated blocks for a key of `length` bytes (a multiple of 16; DES uses the first 8 of 16).
Bytes MasterDerivationData(KeyPurpose purpose, uint64_t context, std::size_t length);

// The IMSI as 8 bytes of packed BCD, first digit in the high nibble, padded with
// 0xF: "001019876543210" -> 00 10 19 87 65 43 21 0f. Accepts 6..15 digits.
StatusOr<std::array<uint8_t, 8>> PackImsi(std::string_view imsi);

// Input of Ki_1 = f(K1, IMSI), 16 bytes:
//   legacy: IMSI8 | NOT(IMSI8), encrypted by DES-ECB under K1 (two blocks);
//   modern: IMSI8 | "Ki_1" | 00 00 00 01, encrypted by AES-128-ECB under K1 (one block).
StatusOr<DerivationBlock> Ki1DerivationData(Profile profile, std::string_view imsi);

}  // namespace simkms::kms
