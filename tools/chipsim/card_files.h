// The card's file system as the APDU layer sees it (TS 102 221 §8, TS 51.011
// §6, TS 31.102 §4): a fixed tree, the SELECT-by-FID rules over it, and the
// answers to SELECT/STATUS (the UICC's FCP template, the GSM SIM's response
// data). File contents live in ChipState; this file only knows their shape.
//
//   MF 3F00
//    |- EF_ICCID 2FE2       transparent, 10 bytes, read: always
//    |- DF_TELECOM 7F10     (empty; present because handsets select it)
//    |- DF_GSM 7F20
//    |   `- EF_IMSI 6F07    transparent, 9 bytes, read: CHV1
//    `- ADF_USIM            by AID (P1 04) or 7FFF once selected; UICC only
//        `- EF_IMSI 6F07    the same file (TS 31.102 maps DF_GSM's onto it)
#pragma once

#include <cstdint>
#include <optional>

#include "base/bytes.h"
#include "tools/chipsim/chip_state.h"

namespace simkms::chip {

enum class FileId : uint8_t { kMf, kEfIccid, kDfTelecom, kDfGsm, kEfImsiGsm, kAdfUsim, kEfImsiUsim };

// The USIM application's AID: RID A0 00 00 00 87 (3GPP), application code
// 10 02 (USIM), then our country/provider bytes.
inline constexpr uint8_t kUsimAid[] = {0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02, 0xFF,
                                       0x49, 0xFF, 0x05, 0x89, 0x53, 0x4B, 0x4D, 0x53};

bool IsDf(FileId file);          // MF, DF or ADF
uint16_t Fid(FileId file);       // 3F00, 2FE2, ... (ADF_USIM: 7FFF)
FileId ParentDf(FileId file);    // the DF an EF lives in; a DF's parent (MF for MF)
// The EF's size in bytes (0 for a DF).
std::size_t EfSize(FileId file);
// Whether reading the EF needs CHV1 (when enabled and not verified).
bool EfNeedsChv1(FileId file);
// The EF's contents.
Bytes EfContents(FileId file, const ChipState& state);

// SELECT by file identifier relative to `current` (TS 102 221 §8.4.1,
// TS 51.011 §6.5): the MF; the current DF itself, its children, its parent,
// and the parent's other DFs; 7FFF the USIM ADF (UICC only, once the USIM was
// selected by AID in this session: `usim_active`). nullopt: not found.
std::optional<FileId> SelectByFid(FileId current, uint16_t fid, bool gsm, bool usim_active);

// A child of `dir` by FID, for SELECT by path (7FFF: the USIM ADF under the
// MF once `usim_active`). nullopt if `dir` is an EF or has no such child.
std::optional<FileId> ChildByFid(FileId dir, uint16_t fid, bool usim_active);

// READ BINARY by short file identifier (UICC): SFI 02 EF_ICCID, SFI 07 EF_IMSI
// of the USIM while the ADF is the current DF. nullopt: no such EF here.
std::optional<FileId> SelectBySfi(FileId current, uint8_t sfi);

// UICC FCP template (62 ...) of a file, TS 102 221 §11.1.1.3.
Bytes Fcp(FileId file, const ChipState& state);
// GSM SIM response data to SELECT/STATUS, TS 51.011 §9.2.1: 22 bytes for the
// MF/DF (with CHV1/UNBLOCK CHV1 status), 15 for an EF.
Bytes GsmSelectResponse(FileId file, const ChipState& state);

}  // namespace simkms::chip
