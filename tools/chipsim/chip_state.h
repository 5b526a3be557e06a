// ChipState: everything the card keeps in non-volatile memory, and the
// operations the patent defines on it (pre-personalization, installing a
// negotiated Ki_2, the dealer's reset).
//
// Public files: EF_ICCID, EF_IMSI, VER (the patent's terminal "should be able
// to read the card number and the version number"). Secure region (never
// readable over the APDU interface, never printed; KCVs only): the VER's DH
// group, Ki_1 and its OPc, Ki_2 and its OPc, a pending Ki_2, the SQN array,
// the OTA counters, CHV1 and UNBLOCK CHV1.
//
// What the card does NOT keep (docs/protocol.md §2, "Deviation from the
// patent"): K1 and the Milenage OP. The manufacturer enters both, the card
// derives its Ki_1 and the OPc of Ki_1 from them and forgets them, so that an
// extracted card (or its image) yields this card's keys and nothing that serves
// another card of its VER. The OPc of a negotiated Ki_2 reaches the card in the
// SC's COMMIT.
//
// Invariants (checked by Validate, relied on by the card):
//   * EF_ICCID and EF_IMSI decode;
//   * Ki_1 and its OPc are 16 bytes each;
//   * the Ki_2 slot and its OPc are both empty or both 16 bytes;
//   * active key Ki_2 => the Ki_2 slot holds a key.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "softcrypto/derivation_data.h"
#include "softcrypto/dh_group.h"
#include "tools/chipsim/chv.h"
#include "tools/chipsim/ef_codec.h"
#include "tools/chipsim/sqn_array.h"

namespace simkms::chip {

inline constexpr std::size_t kKiSize = 16;
inline constexpr std::size_t kOpSize = 16;
inline constexpr uint64_t kOtaCounterMax = (uint64_t{1} << 40) - 1;  // 5-byte CNTR, TS 102 225

enum class ActiveKey : uint8_t { kKi1 = 1, kKi2 = 2 };

// How many digits of the IMSI after the MCC are the MNC (E.212): the digits do
// not say it, the network plan does. A type of its own so that it cannot be
// mixed up with the VER beside it.
enum class MncLength : uint8_t { kTwo = 2, kThree = 3 };
// InvalidArgument unless `digits` is 2 or 3.
StatusOr<MncLength> MncLengthOf(int digits);
std::string_view ActiveKeyName(ActiveKey key);  // "Ki_1", "Ki_2"

// The VER's Diffie-Hellman group; p and g only for kCustom (big-endian,
// minimal), validated by the operator when the VER was created.
struct DhGroupSpec {
  kms::DhGroupKind kind = kms::kDefaultDhGroup;
  Bytes p;
  Bytes g;
  bool operator==(const DhGroupSpec&) const = default;
};

// A key negotiated by the first-call applet but not yet committed (the SC's
// COMMIT not seen): kept across power cycles so a lost message is recovered
// on the next call (docs/protocol.md §6). Sizes are the protocol's.
// The OPc of Ki_2' is not part of it: the SC sends it only in the COMMIT.
struct PendingKey {
  SecretBytes ki2;        // 16 bytes
  SecretBytes k_confirm;  // 16 bytes
  SecretBytes puk;        // ASCII digits; empty on a re-key
  std::array<uint8_t, 8> session_id{};
  std::array<uint8_t, 8> expected_commit_mac{};
};

// OTA replay counters (TS 102 225 CNTR, 5 bytes): the last one sent and the
// last one accepted.
struct OtaCounters {
  uint64_t out = 0;
  uint64_t in = 0;
};

struct ChipState {
  // --- public files
  EfIccid ef_iccid{};
  EfImsi ef_imsi{};
  uint32_t ver = 0;
  kms::Profile profile = kms::Profile::kModern;
  // The IMSI's MNC length (2 or 3), which EF_AD announces: the digits do not say
  // it, the range the operator assigned does (it reaches the manufacturer in
  // the K1 export).
  MncLength mnc_length = MncLength::kTwo;
  // What terminals wrote to EFs with UPDATE BINARY/RECORD (EF_LOCI, EF_PSLOCI,
  // EF_KEYS, EF_KEYSPS, EF_MSISDN: the files whose UPDATE condition is PIN1),
  // by file name (card_files.h FileContentName), the whole file each. A real
  // card keeps them in EEPROM across power cycles; so does the image. EF_KEYS
  // holds CK and IK, hence SecretBytes. Files not here have their initial
  // contents (card_files.h InitialContents).
  std::map<std::string, SecretBytes> terminal_writes;

  // --- secure region
  DhGroupSpec dh_group;
  SecretBytes ki1;      // derived by the chip at pre-personalization, kept for the reset
  SecretBytes ki1_opc;  // OP xor AES_Ki_1(OP), computed at pre-personalization
  ActiveKey active_key = ActiveKey::kKi1;
  SecretBytes ki2;      // empty = slot empty
  SecretBytes ki2_opc;  // OPc of Ki_2, from the SC's COMMIT; empty with the slot
  std::optional<PendingKey> pending;
  SqnArray sqn;
  OtaCounters ota;
  Chv pin;               // CHV1
  Chv puk;               // UNBLOCK CHV1
  bool pin_enabled = true;

  // Decoded files (the invariants guarantee they decode).
  std::string iccid() const;
  std::string imsi() const;
  // The key Milenage runs under: Ki_1 or Ki_2.
  const SecretBytes& active() const { return active_key == ActiveKey::kKi2 ? ki2 : ki1; }
  // Its OPc.
  const SecretBytes& active_opc() const { return active_key == ActiveKey::kKi2 ? ki2_opc : ki1_opc; }
};

// The manufacturer's step (patent Fig. 1, claim 4): enters ICCID, IMSI, VER,
// K1, the DH group and OP; the chip derives Ki_1 = f(K1, IMSI) itself
// (kms::SoftwareDeriveKi1, the AC's function) and OPc = OP xor AES_Ki_1(OP),
// and keeps neither K1 nor OP (the returned state holds no copy of them).
// PIN 0000 (3 tries, enabled), PUK 00000000 (10 tries), SQN array and OTA
// counters zero, Ki_1 active, no terminal writes. InvalidArgument naming the
// bad input (sizes, digits, an unvalidated custom group without p/g).
StatusOr<ChipState> PrePersonalize(std::string_view iccid, std::string_view imsi, MncLength mnc_length, uint32_t ver,
                                   kms::Profile profile, const SecretBytes& k1, const DhGroupSpec& dh_group,
                                   const SecretBytes& op);

// Checks the invariants above; DataLoss naming the first one broken.
Status Validate(const ChipState& state);

// The patent's reset ("Reuse of used chips"): Ki_2 and its OPc deleted (and
// any pending key), the kept Ki_1 reactivated with its kept OPc, PIN 0000
// enabled with 3 tries, PUK 00000000 with 10 tries, SQN array zero, the
// terminals' writes gone (the last user's location and cipher keys). ICCID,
// IMSI, VER, the DH group, Ki_1 and its OPc are untouched, and so are the OTA
// counters (the SC refuses
// a counter that does not increase: docs/protocol.md §2): apart from them the
// card is again exactly as it left the manufacturer.
Status ResetPersonalization(ChipState& state);

// Commits a negotiated key: Ki_2 slot := ki2, its OPc := opc (the value the
// SC's COMMIT carried), active key Ki_2, no pending key, and the SQN array cleared (the AC starts the new key's SQN
// afresh; a stale high SQN_MS would only cost a resynchronisation). A non-empty
// `puk` (first call) replaces the PUK and restores its tries. ki2 and opc must
// be 16 bytes, puk 8 digits or empty.
Status InstallKi2(ChipState& state, const SecretBytes& ki2, const SecretBytes& opc, std::string_view puk);

// KCVs for display (3 bytes, AES-CMAC).
struct KeyCheckValues {
  Bytes ki1;
  Bytes ki2;  // empty if the slot is empty
  Bytes active;
};
StatusOr<KeyCheckValues> ComputeKcvs(const ChipState& state);

}  // namespace simkms::chip
