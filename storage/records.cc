#include "storage/records.h"

#include <initializer_list>
#include <string>

#include "storage/identifiers.h"
#include "storage/msisdn.h"
#include "storage/tlv.h"

namespace simkms::storage {

namespace {

constexpr uint8_t kFormatVersion = 1;
// Subscriber records are written in version 2, whose tags 19-25 (counters per
// key version, clone alarms) are required like the rest, so that a truncated
// record never decodes as a shorter one. Version 1 records lack them.
constexpr uint8_t kSubscriberFormatVersion = 2;

// Tags. Persisted: never renumber or reuse; add new ones at the end.
namespace ver_tag {
constexpr uint8_t kVer = 1, kProfile = 2, kDhGroup = 3, kCustomP = 4, kCustomG = 5, kOpCiphertext = 6,
                  kAmf = 7, kK1Kcv = 8, kDescription = 9, kCreatedAt = 10, kContractsWithoutCode = 11,
                  kRekeyMaxKi2Age = 12, kRekeyPerSecond = 13, kRekeyPerDay = 14;
}
namespace range_tag {
constexpr uint8_t kId = 1, kManufacturer = 2, kVer = 3, kIccidFirst = 4, kImsiFirst = 5, kCount = 6,
                  kCreatedAt = 7,
                  // Optional: written only for a 3-digit MNC; absent = 2 (records written before it read so).
                  kMncDigits = 8;
}
namespace sub_tag {
constexpr uint8_t kImsi = 1, kIccid = 2, kVer = 3, kState = 4, kHotline = 5, kOrderId = 6,
                  kActivationCodeHash = 7, kActivationTriesLeft = 8, kKi2KeyId = 9, kKi2Kcv = 10,
                  kPukCiphertext = 11, kSqn = 12, kCreatedAt = 13, kUpdatedAt = 14,
                  kOtaCounterIn = 15, kOtaCounterOut = 16, kLastCommitSession = 17, kPreviousKi2KeyId = 18,
                  // Format version 2 (kSubscriberFormatVersion): absent in version 1 records.
                  kKi1CounterIn = 19, kKi1CounterOut = 20, kPreviousKi2CounterIn = 21, kPreviousKi2CounterOut = 22,
                  kCloneAlarmsSeen = 23, kCloneAlarmLastAuditedAt = 24, kCloneAlarmsSuppressed = 25,
                  // Optional in version 2: written only when set, absent = no MSISDN.
                  kMsisdn = 26;
}
namespace wk_tag {
constexpr uint8_t kKeyId = 1, kBlob = 2, kKcv = 3, kKekKcv = 4, kMechanism = 5, kCreatedAt = 6;
}

// Runs the field loop shared by all decoders: version check, duplicate rejection,
// unknown-tag skipping, and the required-field check at the end.
template <typename Handler>
Status DecodeFields(tlv::Reader& reader, std::initializer_list<uint8_t> required, Handler handle,
                    uint8_t version = kFormatVersion) {
  SIMKMS_RETURN_IF_ERROR(reader.ReadVersion(version));
  tlv::TagSet seen;
  while (!reader.done()) {
    SIMKMS_ASSIGN_OR_RETURN(tlv::Field f, reader.Next());
    bool known = false;
    SIMKMS_RETURN_IF_ERROR(handle(f, known));
    if (!known) continue;  // a later version's field: skipped
    if (!seen.Insert(f.tag)) {
      return reader.Error("duplicate tag " + std::to_string(f.tag) + " at offset " + std::to_string(f.offset));
    }
  }
  for (uint8_t tag : required) {
    if (!seen.Contains(tag)) return reader.Error("required tag " + std::to_string(tag) + " missing");
  }
  return OkStatus();
}

Status AsDataLoss(const Status& s, std::string_view what) {
  if (s.ok()) return s;
  return DataLossError(std::string(what) + ": " + s.message());
}

bool ValidProfile(uint8_t v) { return v == 1 || v == 2; }
bool ValidDhGroup(uint8_t v) { return v >= 1 && v <= 4; }
bool ValidState(uint8_t v) { return v >= 1 && v <= 4; }

}  // namespace

std::string_view KeyProfileName(KeyProfile p) {
  switch (p) {
    case KeyProfile::kLegacy: return "legacy";
    case KeyProfile::kModern: return "modern";
  }
  return "unknown";
}

std::string_view DhGroupName(DhGroup g) {
  switch (g) {
    case DhGroup::kFfdhe2048: return "ffdhe2048";
    case DhGroup::kFfdhe3072: return "ffdhe3072";
    case DhGroup::kP256: return "p256";
    case DhGroup::kCustom: return "custom";
  }
  return "unknown";
}

// ---------------------------------------------------------------- validation

Status ValidateVerRecord(const VerRecord& r) {
  const std::string what = "VER " + std::to_string(r.ver);
  if (!ValidProfile(static_cast<uint8_t>(r.profile))) {
    return InvalidArgumentError(what + ": profile " + std::to_string(static_cast<int>(r.profile)) + " unknown");
  }
  if (!ValidDhGroup(static_cast<uint8_t>(r.dh_group))) {
    return InvalidArgumentError(what + ": dh_group " + std::to_string(static_cast<int>(r.dh_group)) + " unknown");
  }
  const bool custom = r.dh_group == DhGroup::kCustom;
  if (custom && (r.custom_p.empty() || r.custom_g.empty())) {
    return InvalidArgumentError(what + ": custom DH group needs custom_p and custom_g");
  }
  if (!custom && (!r.custom_p.empty() || !r.custom_g.empty())) {
    return InvalidArgumentError(what + ": custom_p/custom_g set but dh_group is " +
                                std::string(DhGroupName(r.dh_group)));
  }
  if (r.amf.size() != 2) return InvalidArgumentError(what + ": amf must be 2 bytes, got " + std::to_string(r.amf.size()));
  if (r.k1_kcv.size() != 3) {
    return InvalidArgumentError(what + ": k1_kcv must be 3 bytes, got " + std::to_string(r.k1_kcv.size()));
  }
  const RekeyPolicy& rekey = r.rekey;
  if (rekey.enabled() ? rekey.per_second == 0 || rekey.per_day == 0 : rekey.per_second != 0 || rekey.per_day != 0) {
    return InvalidArgumentError(what + ": re-key policy (max Ki_2 age " + std::to_string(rekey.max_ki2_age_seconds) +
                                " s, " + std::to_string(rekey.per_second) + "/s, " + std::to_string(rekey.per_day) +
                                "/day) must be all zero (none) or all at least 1");
  }
  return OkStatus();
}

Status ValidateRangeRecord(const RangeRecord& r) {
  const std::string what = "range '" + r.id + "'";
  if (r.id.empty() || r.id.size() > 64) return InvalidArgumentError(what + ": id must be 1..64 bytes");
  if (r.count == 0) return InvalidArgumentError(what + ": count must be at least 1");
  // One length per range: a chip's ICCID is the range's first plus its position, in the
  // first's text form.
  if (!IccidIntervalFits(r.iccid_first, r.count)) {
    return InvalidArgumentError(what + ": ICCID interval leaves the 19-digit body space or mixes 19- and "
                                       "20-digit ICCIDs");
  }
  if (r.imsi_first >= kImsiLimit || r.count > kImsiLimit - r.imsi_first) {
    return InvalidArgumentError(what + ": IMSI interval leaves the 15-digit space");
  }
  if (r.mnc_digits != 2 && r.mnc_digits != 3) {
    return InvalidArgumentError(what + ": MNC length must be 2 or 3 digits, not " + std::to_string(r.mnc_digits));
  }
  return OkStatus();
}

Status ValidateSubscriberRecord(const SubscriberRecord& r) {
  if (!IsValidImsi(r.imsi)) return InvalidArgumentError("subscriber: IMSI '" + r.imsi + "' is not 15 digits");
  const std::string what = "subscriber " + r.imsi;
  if (StatusOr<uint64_t> body = ParseIccidBody(r.iccid); !body.ok()) return body.status().WithContext(what);
  if (!ValidState(static_cast<uint8_t>(r.state))) {
    return InvalidArgumentError(what + ": state " + std::to_string(static_cast<int>(r.state)) + " unknown");
  }
  if (!r.msisdn.empty() && !IsValidMsisdn(r.msisdn)) {
    return InvalidArgumentError(what + ": MSISDN '" + r.msisdn + "' is not 1..15 digits (E.164)");
  }
  if (r.ota.clone_alarms.seen.size() > CloneAlarmLog::kMaxEntries) {
    return InvalidArgumentError(what + ": " + std::to_string(r.ota.clone_alarms.seen.size()) +
                                " clone alarms remembered, at most " + std::to_string(CloneAlarmLog::kMaxEntries));
  }
  for (uint64_t id : r.ota.clone_alarms.seen) {
    const uint64_t key_version = id >> 40;
    if (key_version != 1 && key_version != 2) {
      return InvalidArgumentError(what + ": clone alarm under key version " + std::to_string(key_version));
    }
  }
  return OkStatus();
}

Status ValidateWrappedKeyRecord(const WrappedKeyRecord& r) {
  if (r.key_id.empty() || r.key_id.size() > 256) {
    return InvalidArgumentError("wrapped key: key_id must be 1..256 bytes");
  }
  return OkStatus();
}

// ---------------------------------------------------------------- VerRecord

Bytes EncodeVerRecord(const VerRecord& r) {
  using namespace ver_tag;
  tlv::Writer w(kFormatVersion);
  w.AddU32(kVer, r.ver);
  w.AddU8(kProfile, static_cast<uint8_t>(r.profile));
  w.AddU8(kDhGroup, static_cast<uint8_t>(r.dh_group));
  w.AddBytes(kCustomP, r.custom_p);
  w.AddBytes(kCustomG, r.custom_g);
  w.AddBytes(kOpCiphertext, r.op_ciphertext);
  w.AddBytes(kAmf, r.amf);
  w.AddBytes(kK1Kcv, r.k1_kcv);
  w.AddString(kDescription, r.description);
  w.AddI64(kCreatedAt, r.created_at);
  // Written only when relaxed, so that the default's encoding is the one records had before the field.
  if (r.contracts_without_code) w.AddU8(kContractsWithoutCode, 1);
  // Likewise written only when there is a policy.
  if (r.rekey.enabled()) {
    w.AddU64(kRekeyMaxKi2Age, r.rekey.max_ki2_age_seconds);
    w.AddU32(kRekeyPerSecond, r.rekey.per_second);
    w.AddU32(kRekeyPerDay, r.rekey.per_day);
  }
  return std::move(w).Finish();
}

StatusOr<VerRecord> DecodeVerRecord(ByteView in) {
  using namespace ver_tag;
  tlv::Reader reader(in, "VER record");
  VerRecord r;
  SIMKMS_RETURN_IF_ERROR(DecodeFields(
      reader, {kVer, kProfile, kDhGroup, kCustomP, kCustomG, kOpCiphertext, kAmf, kK1Kcv, kDescription, kCreatedAt},
      [&](const tlv::Field& f, bool& known) -> Status {
        known = true;
        uint8_t u8 = 0;
        switch (f.tag) {
          case kVer: return reader.AsU32(f, r.ver);
          case kProfile:
            SIMKMS_RETURN_IF_ERROR(reader.AsU8(f, u8));
            if (!ValidProfile(u8)) return reader.Error("profile " + std::to_string(u8) + " unknown");
            r.profile = static_cast<KeyProfile>(u8);
            return OkStatus();
          case kDhGroup:
            SIMKMS_RETURN_IF_ERROR(reader.AsU8(f, u8));
            if (!ValidDhGroup(u8)) return reader.Error("dh_group " + std::to_string(u8) + " unknown");
            r.dh_group = static_cast<DhGroup>(u8);
            return OkStatus();
          case kCustomP: tlv::Reader::AsBytes(f, r.custom_p); return OkStatus();
          case kCustomG: tlv::Reader::AsBytes(f, r.custom_g); return OkStatus();
          case kOpCiphertext: tlv::Reader::AsBytes(f, r.op_ciphertext); return OkStatus();
          case kAmf: tlv::Reader::AsBytes(f, r.amf); return OkStatus();
          case kK1Kcv: tlv::Reader::AsBytes(f, r.k1_kcv); return OkStatus();
          case kDescription: tlv::Reader::AsString(f, r.description); return OkStatus();
          case kCreatedAt: return reader.AsI64(f, r.created_at);
          case kContractsWithoutCode:  // optional: absent in records written before it (= code required)
            SIMKMS_RETURN_IF_ERROR(reader.AsU8(f, u8));
            if (u8 > 1) return reader.Error("contracts_without_code " + std::to_string(u8) + " is not 0 or 1");
            r.contracts_without_code = u8 == 1;
            return OkStatus();
          // Optional: absent in records written before them, and in a VER without a policy
          // (ValidateVerRecord below refuses a partial one).
          case kRekeyMaxKi2Age: return reader.AsU64(f, r.rekey.max_ki2_age_seconds);
          case kRekeyPerSecond: return reader.AsU32(f, r.rekey.per_second);
          case kRekeyPerDay: return reader.AsU32(f, r.rekey.per_day);
          default: known = false; return OkStatus();
        }
      }));
  SIMKMS_RETURN_IF_ERROR(AsDataLoss(ValidateVerRecord(r), "VER record"));
  return r;
}

// ---------------------------------------------------------------- RangeRecord

Bytes EncodeRangeRecord(const RangeRecord& r) {
  using namespace range_tag;
  tlv::Writer w(kFormatVersion);
  w.AddString(kId, r.id);
  w.AddString(kManufacturer, r.manufacturer);
  w.AddU32(kVer, r.ver);
  w.AddU64(kIccidFirst, r.iccid_first);
  w.AddU64(kImsiFirst, r.imsi_first);
  w.AddU64(kCount, r.count);
  w.AddI64(kCreatedAt, r.created_at);
  if (r.mnc_digits != 2) w.AddU8(kMncDigits, r.mnc_digits);
  return std::move(w).Finish();
}

StatusOr<RangeRecord> DecodeRangeRecord(ByteView in) {
  using namespace range_tag;
  tlv::Reader reader(in, "range record");
  RangeRecord r;
  SIMKMS_RETURN_IF_ERROR(DecodeFields(
      reader, {kId, kManufacturer, kVer, kIccidFirst, kImsiFirst, kCount, kCreatedAt},
      [&](const tlv::Field& f, bool& known) -> Status {
        known = true;
        switch (f.tag) {
          case kId: tlv::Reader::AsString(f, r.id); return OkStatus();
          case kManufacturer: tlv::Reader::AsString(f, r.manufacturer); return OkStatus();
          case kVer: return reader.AsU32(f, r.ver);
          case kIccidFirst: return reader.AsU64(f, r.iccid_first);
          case kImsiFirst: return reader.AsU64(f, r.imsi_first);
          case kCount: return reader.AsU64(f, r.count);
          case kCreatedAt: return reader.AsI64(f, r.created_at);
          case kMncDigits: return reader.AsU8(f, r.mnc_digits);
          default: known = false; return OkStatus();
        }
      }));
  SIMKMS_RETURN_IF_ERROR(AsDataLoss(ValidateRangeRecord(r), "range record"));
  return r;
}

// ---------------------------------------------------------------- SubscriberRecord

Bytes EncodeSubscriberRecord(const SubscriberRecord& r) {
  using namespace sub_tag;
  tlv::Writer w(kSubscriberFormatVersion);
  w.AddString(kImsi, r.imsi);
  w.AddString(kIccid, r.iccid);
  w.AddU32(kVer, r.ver);
  w.AddU8(kState, static_cast<uint8_t>(r.state));
  w.AddBool(kHotline, r.hotline);
  w.AddString(kOrderId, r.order_id);
  w.AddBytes(kActivationCodeHash, r.activation_code_hash);
  w.AddU32(kActivationTriesLeft, r.activation_tries_left);
  w.AddString(kKi2KeyId, r.ki2_key_id);
  w.AddBytes(kKi2Kcv, r.ki2_kcv);
  w.AddBytes(kPukCiphertext, r.puk_ciphertext);
  w.AddU64(kSqn, r.sqn);
  w.AddI64(kCreatedAt, r.created_at);
  w.AddI64(kUpdatedAt, r.updated_at);
  w.AddU64(kOtaCounterIn, r.ota_counter_in);
  w.AddU64(kOtaCounterOut, r.ota_counter_out);
  w.AddBytes(kLastCommitSession, r.last_commit_session);
  w.AddString(kPreviousKi2KeyId, r.previous_ki2_key_id);
  w.AddU64(kKi1CounterIn, r.ota.ki1.in);
  w.AddU64(kKi1CounterOut, r.ota.ki1.out);
  w.AddU64(kPreviousKi2CounterIn, r.ota.previous_ki2.in);
  w.AddU64(kPreviousKi2CounterOut, r.ota.previous_ki2.out);
  Bytes seen;
  seen.reserve(8 * r.ota.clone_alarms.seen.size());
  for (uint64_t id : r.ota.clone_alarms.seen) {
    for (int shift = 56; shift >= 0; shift -= 8) seen.push_back(static_cast<uint8_t>(id >> shift));
  }
  w.AddBytes(kCloneAlarmsSeen, seen);
  w.AddI64(kCloneAlarmLastAuditedAt, r.ota.clone_alarms.last_audited_at);
  w.AddU64(kCloneAlarmsSuppressed, r.ota.clone_alarms.suppressed);
  if (!r.msisdn.empty()) w.AddString(kMsisdn, r.msisdn);
  return std::move(w).Finish();
}

StatusOr<SubscriberRecord> DecodeSubscriberRecord(ByteView in) {
  using namespace sub_tag;
  tlv::Reader reader(in, "subscriber record");
  SubscriberRecord r;
  bool ki1_counters = false, previous_ki2_counters = false;
  auto handle = [&](const tlv::Field& f, bool& known) -> Status {
        known = true;
        uint8_t u8 = 0;
        switch (f.tag) {
          case kImsi: tlv::Reader::AsString(f, r.imsi); return OkStatus();
          case kIccid: tlv::Reader::AsString(f, r.iccid); return OkStatus();
          case kVer: return reader.AsU32(f, r.ver);
          case kState:
            SIMKMS_RETURN_IF_ERROR(reader.AsU8(f, u8));
            if (!ValidState(u8)) return reader.Error("state " + std::to_string(u8) + " unknown");
            r.state = static_cast<SubscriberState>(u8);
            return OkStatus();
          case kHotline: return reader.AsBool(f, r.hotline);
          case kOrderId: tlv::Reader::AsString(f, r.order_id); return OkStatus();
          case kActivationCodeHash: tlv::Reader::AsBytes(f, r.activation_code_hash); return OkStatus();
          case kActivationTriesLeft: return reader.AsU32(f, r.activation_tries_left);
          case kKi2KeyId: tlv::Reader::AsString(f, r.ki2_key_id); return OkStatus();
          case kKi2Kcv: tlv::Reader::AsBytes(f, r.ki2_kcv); return OkStatus();
          case kPukCiphertext: tlv::Reader::AsBytes(f, r.puk_ciphertext); return OkStatus();
          case kSqn: return reader.AsU64(f, r.sqn);
          case kCreatedAt: return reader.AsI64(f, r.created_at);
          case kUpdatedAt: return reader.AsI64(f, r.updated_at);
          case kOtaCounterIn: return reader.AsU64(f, r.ota_counter_in);
          case kOtaCounterOut: return reader.AsU64(f, r.ota_counter_out);
          case kLastCommitSession: tlv::Reader::AsBytes(f, r.last_commit_session); return OkStatus();
          case kPreviousKi2KeyId: tlv::Reader::AsString(f, r.previous_ki2_key_id); return OkStatus();
          case kKi1CounterIn: ki1_counters = true; return reader.AsU64(f, r.ota.ki1.in);
          case kKi1CounterOut: ki1_counters = true; return reader.AsU64(f, r.ota.ki1.out);
          case kPreviousKi2CounterIn: previous_ki2_counters = true; return reader.AsU64(f, r.ota.previous_ki2.in);
          case kPreviousKi2CounterOut: previous_ki2_counters = true; return reader.AsU64(f, r.ota.previous_ki2.out);
          case kCloneAlarmsSeen: {
            if (f.value.size() % 8 != 0) {
              return reader.Error("clone alarm list of " + std::to_string(f.value.size()) +
                                  " bytes at offset " + std::to_string(f.offset) + " is not a multiple of 8");
            }
            for (std::size_t i = 0; i < f.value.size(); i += 8) {
              uint64_t id = 0;
              for (std::size_t j = 0; j < 8; ++j) id = id << 8 | f.value[i + j];
              r.ota.clone_alarms.seen.push_back(id);
            }
            return OkStatus();
          }
          case kCloneAlarmLastAuditedAt: return reader.AsI64(f, r.ota.clone_alarms.last_audited_at);
          case kCloneAlarmsSuppressed: return reader.AsU64(f, r.ota.clone_alarms.suppressed);
          case kMsisdn:  // optional; an empty value is refused by the validation below
            tlv::Reader::AsString(f, r.msisdn);
            if (r.msisdn.empty()) return reader.Error("empty MSISDN field at offset " + std::to_string(f.offset));
            return OkStatus();
          default: known = false; return OkStatus();
        }
      };
  if (!in.empty() && in[0] == kSubscriberFormatVersion) {
    SIMKMS_RETURN_IF_ERROR(DecodeFields(
        reader,
        {kImsi, kIccid, kVer, kState, kHotline, kOrderId, kActivationCodeHash, kActivationTriesLeft, kKi2KeyId,
         kKi2Kcv, kPukCiphertext, kSqn, kCreatedAt, kUpdatedAt, kOtaCounterIn, kOtaCounterOut, kLastCommitSession,
         kPreviousKi2KeyId, kKi1CounterIn, kKi1CounterOut, kPreviousKi2CounterIn, kPreviousKi2CounterOut,
         kCloneAlarmsSeen, kCloneAlarmLastAuditedAt, kCloneAlarmsSuppressed},
        handle, kSubscriberFormatVersion));
  } else {
    SIMKMS_RETURN_IF_ERROR(DecodeFields(
        reader,
        {kImsi, kIccid, kVer, kState, kHotline, kOrderId, kActivationCodeHash, kActivationTriesLeft, kKi2KeyId,
         kKi2Kcv, kPukCiphertext, kSqn, kCreatedAt, kUpdatedAt, kOtaCounterIn, kOtaCounterOut, kLastCommitSession,
         kPreviousKi2KeyId},
        handle));
  }
  // A record written while one pair of counters served every key: that pair is
  // what each key's packets were held to, so each key starts from it.
  if (!ki1_counters) r.ota.ki1 = {r.ota_counter_in, r.ota_counter_out};
  if (!previous_ki2_counters) r.ota.previous_ki2 = {r.ota_counter_in, r.ota_counter_out};
  SIMKMS_RETURN_IF_ERROR(AsDataLoss(ValidateSubscriberRecord(r), "subscriber record"));
  return r;
}

// ---------------------------------------------------------------- WrappedKeyRecord

Bytes EncodeWrappedKeyRecord(const WrappedKeyRecord& r) {
  using namespace wk_tag;
  tlv::Writer w(kFormatVersion);
  w.AddString(kKeyId, r.key_id);
  w.AddBytes(kBlob, r.blob);
  w.AddBytes(kKcv, r.kcv);
  w.AddBytes(kKekKcv, r.kek_kcv);
  w.AddString(kMechanism, r.mechanism);
  w.AddI64(kCreatedAt, r.created_at);
  return std::move(w).Finish();
}

StatusOr<WrappedKeyRecord> DecodeWrappedKeyRecord(ByteView in) {
  using namespace wk_tag;
  tlv::Reader reader(in, "wrapped key record");
  WrappedKeyRecord r;
  SIMKMS_RETURN_IF_ERROR(DecodeFields(
      reader, {kKeyId, kBlob, kKcv, kKekKcv, kMechanism, kCreatedAt},
      [&](const tlv::Field& f, bool& known) -> Status {
        known = true;
        switch (f.tag) {
          case kKeyId: tlv::Reader::AsString(f, r.key_id); return OkStatus();
          case kBlob: tlv::Reader::AsBytes(f, r.blob); return OkStatus();
          case kKcv: tlv::Reader::AsBytes(f, r.kcv); return OkStatus();
          case kKekKcv: tlv::Reader::AsBytes(f, r.kek_kcv); return OkStatus();
          case kMechanism: tlv::Reader::AsString(f, r.mechanism); return OkStatus();
          case kCreatedAt: return reader.AsI64(f, r.created_at);
          default: known = false; return OkStatus();
        }
      }));
  SIMKMS_RETURN_IF_ERROR(AsDataLoss(ValidateWrappedKeyRecord(r), "wrapped key record"));
  return r;
}

}  // namespace simkms::storage
