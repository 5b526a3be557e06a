#include "storage/record_seal_internal.h"

#include <optional>
#include <string>

#include "storage/tlv.h"

namespace simkms::storage {

namespace {

constexpr std::string_view kDomain = "simkms record mac v1";
constexpr std::string_view kNotAuthentic = "record not authentic";
// records.cc: the record encodings' versions (subscriber records are written in
// version 2, the others in 1). The MAC field is the last TLV field in both.
constexpr uint8_t kOldestFormatVersion = 1;
constexpr uint8_t kNewestFormatVersion = 2;

// Where the MAC field starts and its value; nullopt offset if the value has none.
struct MacField {
  std::optional<std::size_t> offset;
  ByteView mac;
};

StatusOr<MacField> FindMacField(ByteView stored, std::string_view what) {
  tlv::Reader reader(stored, std::string(what));
  const uint8_t version = stored.empty() ? 0 : stored[0];
  SIMKMS_RETURN_IF_ERROR(reader.ReadVersion(
      version >= kOldestFormatVersion && version <= kNewestFormatVersion ? version : kNewestFormatVersion));
  MacField out;
  while (!reader.done()) {
    SIMKMS_ASSIGN_OR_RETURN(tlv::Field f, reader.Next());
    if (out.offset) return reader.Error("bytes after the MAC field");
    if (f.tag == kRecordMacTag) {
      out.offset = f.offset;
      out.mac = f.value;
    }
  }
  return out;
}

}  // namespace

Bytes RecordMacInput(std::string_view column_family, std::string_view key, ByteView encoding) {
  Bytes in(kDomain.begin(), kDomain.end());
  in.push_back(0);
  in.insert(in.end(), column_family.begin(), column_family.end());
  in.push_back(0);
  tlv::AppendVarint(in, key.size());
  in.insert(in.end(), key.begin(), key.end());
  in.insert(in.end(), encoding.begin(), encoding.end());
  return in;
}

Status RecordNotAuthenticError(std::string_view column_family, std::string_view printable_key,
                               std::string_view why) {
  return DataLossError(std::string(column_family) + "/" + std::string(printable_key) + ": " +
                       std::string(kNotAuthentic) + " (" + std::string(why) + ")");
}

bool IsRecordNotAuthentic(const Status& status) {
  return status.code() == StatusCode::kDataLoss && status.message().find(kNotAuthentic) != std::string::npos;
}

StatusOr<Bytes> SealRecord(RecordMac& mac, std::string_view column_family, std::string_view key, Bytes encoding) {
  SIMKMS_ASSIGN_OR_RETURN(Bytes tag, mac.Compute(RecordMacInput(column_family, key, encoding)));
  if (tag.empty()) return InternalError("RecordMac returned an empty MAC");
  encoding.push_back(kRecordMacTag);
  tlv::AppendVarint(encoding, tag.size());
  encoding.insert(encoding.end(), tag.begin(), tag.end());
  return encoding;
}

bool IsSealed(ByteView stored) {
  auto field = FindMacField(stored, "record");
  return field.ok() && field->offset.has_value();
}

StatusOr<ByteView> OpenSealedRecord(RecordMac* mac, bool accept_unsealed, std::string_view column_family,
                                    std::string_view key, std::string_view printable_key, ByteView stored) {
  if (mac == nullptr) return stored;
  const std::string what = std::string(column_family) + "/" + std::string(printable_key);
  SIMKMS_ASSIGN_OR_RETURN(MacField field, FindMacField(stored, what));
  if (!field.offset) {
    if (accept_unsealed) return stored;
    return RecordNotAuthenticError(column_family, printable_key,
                                   "no MAC: written outside simkms, or before record MACs (kmsctl records seal)");
  }
  const ByteView encoding = stored.first(*field.offset);
  Status v = mac->Verify(RecordMacInput(column_family, key, encoding), field.mac);
  if (v.code() == StatusCode::kUnauthenticated) {
    return RecordNotAuthenticError(column_family, printable_key, "MAC mismatch: changed outside simkms");
  }
  if (!v.ok()) return v.WithContext("verify the MAC of " + what);
  return encoding;
}

}  // namespace simkms::storage
