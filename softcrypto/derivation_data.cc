#include "softcrypto/derivation_data.h"

namespace simkms::kms {

std::string_view ProfileName(Profile profile) {
  return profile == Profile::kLegacy ? "legacy" : "modern";
}

StatusOr<Profile> ParseProfile(std::string_view name) {
  if (name == "legacy") return Profile::kLegacy;
  if (name == "modern") return Profile::kModern;
  return InvalidArgumentError("unknown VER profile '" + std::string(name) + "' (legacy or modern)");
}

DerivationBlock MasterDerivationBlock(KeyPurpose purpose, uint64_t context, uint16_t counter) {
  DerivationBlock b{'S', 'K', 'M', 'S', static_cast<uint8_t>(purpose), 0};
  for (int i = 0; i < 8; ++i) b[6 + i] = static_cast<uint8_t>(context >> (56 - 8 * i));
  b[14] = static_cast<uint8_t>(counter >> 8);
  b[15] = static_cast<uint8_t>(counter);
  return b;
}

Bytes MasterDerivationData(KeyPurpose purpose, uint64_t context, std::size_t length) {
  Bytes data;
  for (uint16_t counter = 1; data.size() < length; ++counter) {
    DerivationBlock b = MasterDerivationBlock(purpose, context, counter);
    data.insert(data.end(), b.begin(), b.end());
  }
  return data;
}

StatusOr<std::array<uint8_t, 8>> PackImsi(std::string_view imsi) {
  if (imsi.size() < 6 || imsi.size() > 15) {
    return InvalidArgumentError("IMSI must have 6 to 15 digits, got " + std::to_string(imsi.size()));
  }
  std::array<uint8_t, 8> out;
  out.fill(0xff);
  for (std::size_t i = 0; i < imsi.size(); ++i) {
    char c = imsi[i];
    if (c < '0' || c > '9') return InvalidArgumentError("IMSI contains a non-digit");
    uint8_t d = static_cast<uint8_t>(c - '0');
    uint8_t& byte = out[i / 2];
    byte = (i % 2 == 0) ? static_cast<uint8_t>((d << 4) | 0x0f) : static_cast<uint8_t>((byte & 0xf0) | d);
  }
  return out;
}

StatusOr<DerivationBlock> Ki1DerivationData(Profile profile, std::string_view imsi) {
  SIMKMS_ASSIGN_OR_RETURN(auto packed, PackImsi(imsi));
  DerivationBlock block{};
  std::copy(packed.begin(), packed.end(), block.begin());
  if (profile == Profile::kLegacy) {
    for (int i = 0; i < 8; ++i) block[8 + i] = static_cast<uint8_t>(~packed[i]);
  } else {
    static constexpr uint8_t kTail[8] = {'K', 'i', '_', '1', 0, 0, 0, 1};
    std::copy(std::begin(kTail), std::end(kTail), block.begin() + 8);
  }
  return block;
}

}  // namespace simkms::kms
