// The chip image file: one card's non-volatile memory (ChipState) on disk, so
// that successive `chipsim` runs act on the same card. Format:
// docs/chip-simulator.md §"Image file". Versioned JSON; secrets in hex (this is
// the card's EEPROM: whoever holds the file holds the card).
//
// SaveChipImage writes atomically: a temporary file in the same directory
// (mode 0600 from creation), fsync, rename over the target, fsync of the
// directory. A crash leaves either the old image or the new one, never a mix.
// LoadChipImage refuses (DataLoss, with the reason) a file that is not JSON,
// has another format name or version, misses or mistypes a field, fails its
// SHA-256 checksum, or breaks a ChipState invariant (chip_state.h); NotFound if
// the file does not exist. It also refuses a file readable or writable by
// group or others (PermissionDenied), as ssh does with private keys.
//
// Version 2 holds this card's Ki_1 and OPc and nothing of its VER's (no K1,
// no OP). A version 1 image (which held K1 and OP) is refused with a
// FailedPrecondition saying so; it is not migrated, because the file itself
// is the leak: whoever had it has the VER's K1 and OP, and rewriting it would
// only hide that. The card is pre-personalized again instead.
#pragma once

#include <filesystem>
#include <string>

#include "base/status.h"
#include "tools/chipsim/chip_state.h"

namespace simkms::chip {

inline constexpr std::string_view kImageFormat = "simkms-chip-image";
inline constexpr int kImageVersion = 3;

// The document text (pretty-printed JSON with its checksum), and its parser.
std::string SerializeChipImage(const ChipState& state);
StatusOr<ChipState> ParseChipImage(std::string_view text);

Status SaveChipImage(const std::filesystem::path& path, const ChipState& state);
StatusOr<ChipState> LoadChipImage(const std::filesystem::path& path);

}  // namespace simkms::chip
