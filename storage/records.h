// The records simkms keeps in its database, and their binary encoding.
//
// Records are plain values. Each is stored as one versioned TLV value (format version
// byte 1, then tag/length/value fields; see docs/storage-format.md for every tag). The
// decoder skips unknown tags, so a later version may add fields without breaking this
// one, and rejects anything malformed (truncation, bad lengths, duplicate or missing
// fields, out-of-range enums, invalid IMSI/ICCID) with DataLoss naming the record and
// the offset.
//
// None of these records holds key material in clear: ciphertexts and wrapped blobs are
// opaque bytes produced by the token; KCVs are public check values.
//
// Pure functions and values; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "storage/subscriber_state.h"

namespace simkms::storage {

// Values are persisted: never renumber.
enum class KeyProfile : uint8_t {
  kLegacy = 1,  // 8-byte single-DES K1, as in the patent (weak, documented as such)
  kModern = 2,  // AES-128 K1 (default)
};

// Values are persisted: never renumber.
enum class DhGroup : uint8_t {
  kFfdhe2048 = 1,  // RFC 7919
  kFfdhe3072 = 2,  // RFC 7919
  kP256 = 3,       // ECDH on NIST P-256
  kCustom = 4,     // operator-supplied (p, g), validated by the caller at VER creation
};

// A VER's regular re-key policy (docs/lifecycle.md, "Regular re-key"): kmsd asks
// for a new Ki_2 of every PERSONALIZED subscriber whose Ki_2 is max_ki2_age_seconds
// old, at most per_second requests a second and per_day a UTC day. All zero: no
// policy (the default, and what a record written before these fields reads as);
// otherwise all three are at least 1 (their upper bounds are policy's:
// policy/rekey_policy.h).
struct RekeyPolicy {
  uint64_t max_ki2_age_seconds = 0;
  uint32_t per_second = 0;
  uint32_t per_day = 0;

  bool enabled() const { return max_ki2_age_seconds != 0; }
  bool operator==(const RekeyPolicy&) const = default;
};

// One VER (chip key version): its profile, DH group and the Milenage OP under the token.
// Stored in CF "vers" under the 4-byte big-endian ver.
struct VerRecord {
  uint32_t ver = 0;
  KeyProfile profile = KeyProfile::kModern;
  DhGroup dh_group = DhGroup::kFfdhe2048;
  Bytes custom_p;       // non-empty iff dh_group == kCustom
  Bytes custom_g;       // non-empty iff dh_group == kCustom
  Bytes op_ciphertext;  // the VER's Milenage OP encrypted by the token; opaque here
  Bytes amf;            // exactly 2 bytes
  Bytes k1_kcv;         // exactly 3 bytes
  std::string description;
  int64_t created_at = 0;  // unix seconds
  // Activation-code policy of new contracts: false (the default, and what a
  // record written before this field reads as) = every contract must carry an
  // activation code; true = relaxed by an explicit, audited `kmsctl ver policy`
  // (docs/lifecycle.md: what relaxing costs).
  bool contracts_without_code = false;
  // Set by an audited `kmsctl ver rekey-policy`; none by default.
  RekeyPolicy rekey;

  bool operator==(const VerRecord&) const = default;
};

// A manufacturer's block of chips: ICCID body iccid_first + i pairs with IMSI
// imsi_first + i for 0 <= i < count. One record however many chips ("no static load").
// Stored in CF "ranges" under the 8-byte big-endian iccid_first, indexed by IMSI in CF
// "imsi_ranges".
struct RangeRecord {
  std::string id;            // e.g. "r-0001"; unique, 1..64 bytes
  std::string manufacturer;
  uint32_t ver = 0;          // must name an existing VerRecord when stored
  uint64_t iccid_first = 0;  // ICCID body (no Luhn digit), < 10^19 (identifiers.h)
  uint64_t imsi_first = 0;   // 15-digit IMSI as a number, < 10^15
  uint64_t count = 0;        // >= 1; both intervals must stay below their limits
  int64_t created_at = 0;    // unix seconds
  // Length of the IMSIs' MNC, 2 or 3: the digits do not say it (E.212), the network
  // plan does. It travels to the card's EF_AD through the K1 export and simkms-mfr.
  uint8_t mnc_digits = 2;

  uint64_t iccid_last() const { return iccid_first + count - 1; }
  uint64_t imsi_last() const { return imsi_first + count - 1; }
  bool ContainsIccidBody(uint64_t body) const { return body >= iccid_first && body - iccid_first < count; }
  bool ContainsImsi(uint64_t imsi) const { return imsi >= imsi_first && imsi - imsi_first < count; }
  bool operator==(const RangeRecord&) const = default;
};

// Secured-packet counters of one OTA base key (docs/protocol.md §2): the last
// CNTR accepted from the chip under that key and the last sent to it.
struct OtaCounters {
  uint64_t in = 0;
  uint64_t out = 0;
  bool operator==(const OtaCounters&) const = default;
};

// Clone alarms raised for one subscriber (docs/protocol.md §6): which were
// raised, so that a replayed packet raises none again, and the rate limit's
// state. Entries are AlarmId(key version, CNTR), oldest first.
struct CloneAlarmLog {
  static constexpr uint64_t Id(uint8_t key_version, uint64_t counter) {
    return uint64_t{key_version} << 40 | (counter & ((uint64_t{1} << 40) - 1));
  }
  // Entries a record may hold at most, whatever the policy says (the policy
  // keeps fewer: policy::Limits::clone_alarm_memory).
  static constexpr std::size_t kMaxEntries = 4096;
  std::vector<uint64_t> seen;
  int64_t last_audited_at = 0;  // unix seconds of the last audited alarm; 0: none yet
  uint64_t suppressed = 0;      // alarms raised since then and not audited (rate limit)
  bool operator==(const CloneAlarmLog&) const = default;
};

// The chip channel's state besides the current key's counters (which are
// SubscriberRecord::ota_counter_in/out): the counters of the keys the chip
// may still speak under that are not current, and the clone-alarm log. Each
// key has counters of its own; a packet under one never moves another's.
struct OtaBookkeeping {
  OtaCounters ki1;           // Ki_1's once a Ki_2 is current (before that Ki_1 is the current key)
  OtaCounters previous_ki2;  // the previous Ki_2's, while previous_ki2_key_id is set
  CloneAlarmLog clone_alarms;
  bool operator==(const OtaBookkeeping&) const = default;
};

// A contracted subscriber (HLR + AC state). Stored in CF "subscribers" under the IMSI;
// CF "iccid_index" maps the ICCID back to the IMSI.
struct SubscriberRecord {
  std::string imsi;   // 15 digits
  std::string iccid;  // 19 or 20 digits incl. Luhn check digit
  uint32_t ver = 0;   // must name an existing VerRecord when stored
  SubscriberState state = SubscriberState::kContracted;
  bool hotline = true;
  std::string order_id;
  Bytes activation_code_hash;  // may be empty (no activation code)
  uint32_t activation_tries_left = 0;
  std::string ki2_key_id;  // empty before personalization
  Bytes ki2_kcv;
  Bytes puk_ciphertext;    // encrypted by the token; opaque here
  uint64_t sqn = 0;        // Milenage SQN (TS 33.102)
  // First-call protocol state (docs/protocol.md): the last secured-packet
  // counters accepted from / sent to the chip under the CURRENT key (Ki_1
  // before personalization, the current Ki_2 after), the session that
  // committed the current Ki_2 (8 bytes, for resending a lost COMMIT), the
  // previous Ki_2's blob, kept until the chip has shown it uses the new one,
  // and the other keys' counters and the clone alarms.
  uint64_t ota_counter_in = 0;
  uint64_t ota_counter_out = 0;
  Bytes last_commit_session;
  std::string previous_ki2_key_id;
  OtaBookkeeping ota;
  // The subscriber's number (ITU-T E.164, 1..15 digits, no '+'), given with the
  // contract; empty: none. The HLR role sends it in INSERT_DATA (docs/gsup.md §10).
  std::string msisdn;
  int64_t created_at = 0;  // unix seconds
  int64_t updated_at = 0;  // unix seconds

  bool operator==(const SubscriberRecord&) const = default;
};

// A key wrapped by the token (e.g. a Ki_2 under the KEK). Stored in CF "wrapped_keys"
// under key_id.
struct WrappedKeyRecord {
  std::string key_id;  // 1..256 bytes
  Bytes blob;          // wrapped by the token; opaque here
  Bytes kcv;           // check value of the wrapped key
  Bytes kek_kcv;       // check value of the wrapping key
  std::string mechanism;  // e.g. "CKM_AES_KEY_WRAP_KWP"
  int64_t created_at = 0;  // unix seconds

  bool operator==(const WrappedKeyRecord&) const = default;
};

std::string_view KeyProfileName(KeyProfile p);
std::string_view DhGroupName(DhGroup g);

// Field-level validation of a record about to be stored: InvalidArgument naming the
// field. (Cross-record rules, e.g. range overlap or VER existence, are checked by
// Store::Commit.)
Status ValidateVerRecord(const VerRecord& r);
Status ValidateRangeRecord(const RangeRecord& r);
Status ValidateSubscriberRecord(const SubscriberRecord& r);
Status ValidateWrappedKeyRecord(const WrappedKeyRecord& r);

// Encoding. Encode never fails; it does not validate (Commit does, before encoding).
Bytes EncodeVerRecord(const VerRecord& r);
Bytes EncodeRangeRecord(const RangeRecord& r);
Bytes EncodeSubscriberRecord(const SubscriberRecord& r);
Bytes EncodeWrappedKeyRecord(const WrappedKeyRecord& r);

// Decoding: DataLoss on any malformed input, including values that fail validation.
StatusOr<VerRecord> DecodeVerRecord(ByteView in);
StatusOr<RangeRecord> DecodeRangeRecord(ByteView in);
StatusOr<SubscriberRecord> DecodeSubscriberRecord(ByteView in);
StatusOr<WrappedKeyRecord> DecodeWrappedKeyRecord(ByteView in);

}  // namespace simkms::storage
