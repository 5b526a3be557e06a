// Simulated chips for sc-bench: each chip's protocol state as the manufacturer
// made it (Ki_1 derived from K1 in the K1 export, OP from the same file), for a
// run of consecutive IMSIs, as tests/e2e's MakeChip does for one chip.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "sc-engine/protocol/chip_role.h"
#include "softcrypto/dh_group.h"

namespace simkms::bench {

struct PopulationSpec {
  std::string k1_export_path;    // kmsctl ver export-k1 output
  std::string mfr_key_path;      // the manufacturer's RSA private key (PEM)
  std::string imsi_first;        // 15 digits
  std::size_t count = 0;
  kms::DhGroupKind group = kms::DhGroupKind::kFfdhe2048;  // must be the VER's group
};

StatusOr<std::vector<protocol::ChipProtocolState>> MakeChips(const PopulationSpec& spec);

// imsi + offset, keeping the digit count; InvalidArgument on overflow or non-digits.
StatusOr<std::string> ImsiAt(const std::string& first, std::size_t offset);

}  // namespace simkms::bench
