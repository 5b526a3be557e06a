// The card's file system as the APDU layer sees it (TS 102 221 §8, TS 51.011
// §6, TS 31.102 §4): a fixed tree, the SELECT rules over it, each EF's
// structure, size and access conditions, and the answers to SELECT/STATUS (the
// UICC's FCP template, the GSM SIM's response data). The initial contents come
// from ChipState; what a terminal writes is kept by the card (card.cc).
//
//   MF 3F00
//    |- EF_DIR 2F00        linear fixed, the USIM's application template (TS 102 221 §13.1)
//    |- EF_ICCID 2FE2      transparent, 10 bytes
//    |- EF_ARR 2F06        linear fixed, the access rules every FCP points to (TS 102 221 §13.4)
//    |- DF_TELECOM 7F10
//    |   `- EF_MSISDN 6F40 linear fixed (the GSM SIM's place for it, TS 51.011 §10.5.5)
//    |- DF_GSM 7F20        the GSM SIM application (CLA A0, TS 51.011 §10.3)
//    |   |- EF_IMSI 6F07  EF_AD 6FAD  EF_SST 6F38  EF_ACC 6F78  EF_LOCI 6F7E  EF_SPN 6F46
//    `- ADF.USIM           by AID (P1 04), or 7FFF once selected; UICC only (TS 31.102 §4.2)
//        |- EF_IMSI 6F07  EF_AD 6FAD  EF_UST 6F38  EF_ACC 6F78  EF_LOCI 6F7E  EF_PSLOCI 6F73
//        `- EF_KEYS 6F08  EF_KEYSPS 6F09  EF_SPN 6F46  EF_MSISDN 6F40
//
// A file of DF_GSM and its twin in ADF.USIM (IMSI, AD, ACC, LOCI, SPN; MSISDN
// with DF_TELECOM's) are one file seen twice, as TS 31.102 §4.7 maps them:
// they share their contents (ContentOf).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "tools/chipsim/chip_state.h"

namespace simkms::chip {

enum class FileId : uint8_t {
  kMf,
  kEfDir,
  kEfIccid,
  kEfArr,
  kDfTelecom,
  kEfMsisdnTelecom,
  kDfGsm,
  kEfImsiGsm,
  kEfAdGsm,
  kEfSst,
  kEfAccGsm,
  kEfLociGsm,
  kEfSpnGsm,
  kAdfUsim,
  kEfImsiUsim,
  kEfAd,
  kEfUst,
  kEfAcc,
  kEfLoci,
  kEfPsloci,
  kEfKeys,
  kEfKeysPs,
  kEfSpn,
  kEfMsisdn,
};

// What an EF holds; twins share one (see above).
enum class ContentId : uint8_t { kDir, kIccid, kArr, kImsi, kAd, kSst, kUst, kAcc, kLoci, kPsloci, kKeys, kKeysPs, kSpn, kMsisdn };

enum class Structure : uint8_t { kDf, kTransparent, kLinearFixed };

// Who may run an operation on a file: always, after VERIFY PIN1 (CHV1), the
// administrator (ADM: nobody over this card's interface, which has no ADM
// key), never.
enum class Access : uint8_t { kAlways, kPin1, kAdm, kNever };

// The access conditions of an EF (TS 31.102 §4.2, TS 51.011 §10): READ,
// UPDATE, DEACTIVATE (GSM: INVALIDATE), ACTIVATE (GSM: REHABILITATE).
struct AccessRule {
  Access read = Access::kNever;
  Access update = Access::kNever;
  Access deactivate = Access::kAdm;
  Access activate = Access::kAdm;
  bool operator==(const AccessRule&) const = default;
};

// The USIM application's AID: RID A0 00 00 00 87 (3GPP), application code
// 10 02 (USIM), then our country/provider bytes.
inline constexpr uint8_t kUsimAid[] = {0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02, 0xFF,
                                       0x49, 0xFF, 0x05, 0x89, 0x53, 0x4B, 0x4D, 0x53};
// A right-truncated AID must keep at least the RID and the application code
// (TS 102 221 §8.4.2, TS 101 220 §4).
inline constexpr std::size_t kMinAidPrefix = 7;

bool IsDf(FileId file);           // MF, DF or ADF
uint16_t Fid(FileId file);        // 3F00, 2FE2, ... (ADF.USIM: 7FFF)
FileId ParentDf(FileId file);     // the DF an EF lives in; a DF's parent (MF for MF)
Structure StructureOf(FileId file);
ContentId ContentOf(FileId file);  // EFs only
AccessRule RuleOf(FileId file);    // EFs only
// A linear fixed EF's record length (0 for others).
std::size_t RecordSize(FileId file);

// The EF's contents as the manufacturer wrote them (what the card holds until
// a terminal updates the file). EF_AD's MNC length is the state's.
Bytes InitialContents(ContentId content, const ChipState& state);

// The name a file's contents go by in ChipState::terminal_writes and the image
// ("loci", "keys", ...), and back. Only the contents a terminal may update (an
// EF whose UPDATE condition is PIN1) have one; nullopt for the others.
std::optional<std::string_view> WritableContentName(ContentId content);
std::optional<ContentId> WritableContentByName(std::string_view name);

// The contents a terminal wrote, as the card will serve them: `state`'s write
// for the file if there is one, else its initial contents.
Bytes CurrentContents(ContentId content, const ChipState& state);

// DataLoss unless every terminal write names a writable file and has exactly
// its size (what UPDATE BINARY/RECORD can produce).
Status ValidateTerminalWrites(const ChipState& state);

// The records of EF_ARR (TS 102 221 §9.2.5, expanded format): record 1 the
// rule of the DFs, then one per distinct AccessRule. The record an FCP names.
uint8_t ArrRecordOf(FileId file);

// SELECT by file identifier relative to `current` (TS 102 221 §8.4.1,
// TS 51.011 §6.5): the MF; the current DF itself, its children, its parent,
// and the parent's other DFs; 7FFF the USIM ADF (UICC only, once the USIM was
// selected by AID in this session: `usim_active`). The GSM command set (`gsm`)
// sees neither the ADF nor its files. nullopt: not found.
std::optional<FileId> SelectByFid(FileId current, uint16_t fid, bool gsm, bool usim_active);

// A child of `dir` by FID, for SELECT by path (7FFF: the USIM ADF under the
// MF once `usim_active`). nullopt if `dir` is an EF or has no such child.
std::optional<FileId> ChildByFid(FileId dir, uint16_t fid, bool usim_active);

// An EF of the current DF by short file identifier (TS 102 221 §8.3; the SFIs
// of TS 31.102 §4.2 in the ADF, 02 EF_ICCID, 06 EF_ARR, 1E EF_DIR in the MF).
// nullopt: no such EF here.
std::optional<FileId> SelectBySfi(FileId current, uint8_t sfi);

// UICC FCP template (62 ...) of a file, TS 102 221 §11.1.1.3.
Bytes Fcp(FileId file, const ChipState& state);
// GSM SIM response data to SELECT/STATUS, TS 51.011 §9.2.1: 22 bytes for the
// MF/DF (with CHV1/UNBLOCK CHV1 status), 15 for an EF.
Bytes GsmSelectResponse(FileId file, const ChipState& state);

}  // namespace simkms::chip
