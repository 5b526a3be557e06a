// The getters of Store: reads through the engine, from one snapshot where a getter
// reads two keys or scans (store.h, "READS").
#include "storage/store.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/store_internal.h"

namespace simkms::storage {
StatusOr<VerRecord> Store::GetVer(uint32_t ver) const {
  const std::string key = U32Key(ver);
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, ReadKey(*rep_->engine, kVers, key));
  if (!v.has_value()) return NotFoundError("VER " + std::to_string(ver) + " not found");
  return rep_->Decode(&DecodeVerRecord, kVers, key, AsBytes(*v));
}

StatusOr<std::vector<VerRecord>> Store::ListVers() const {
  return rep_->ListAll(kVers, &DecodeVerRecord, "list vers");
}

StatusOr<std::vector<RangeRecord>> Store::ListRanges() const {
  return rep_->ListAll(kRanges, &DecodeRangeRecord, "list ranges");
}

StatusOr<RangeRecord> Store::GetRange(std::string_view id) const {
  SIMKMS_ASSIGN_OR_RETURN(std::vector<RangeRecord> all, ListRanges());
  for (RangeRecord& r : all) {
    if (r.id == id) return std::move(r);
  }
  return NotFoundError("range '" + std::string(id) + "' not found");
}

StatusOr<RangeRecord> Store::FindRangeByIccid(uint64_t iccid_body) const {
  const std::string what = "range for ICCID body " + std::to_string(iccid_body);
  SIMKMS_ASSIGN_OR_RETURN(std::unique_ptr<KvView> view, rep_->Snapshot());
  auto it = view->NewIterator(kRanges);
  it->SeekForPrev(U64Key(iccid_body));
  if (it->Valid()) {
    SIMKMS_ASSIGN_OR_RETURN(RangeRecord r,
                            rep_->Decode(&DecodeRangeRecord, kRanges, it->key(), AsBytes(it->value())));
    if (r.ContainsIccidBody(iccid_body)) return r;
  }
  SIMKMS_RETURN_IF_ERROR(ScanStatus(*it, what));
  return NotFoundError(what + ": not in any range");
}

StatusOr<RangeRecord> Store::FindRangeByImsi(uint64_t imsi) const {
  const std::string what = "range for IMSI " + std::to_string(imsi);
  SIMKMS_ASSIGN_OR_RETURN(std::unique_ptr<KvView> view, rep_->Snapshot());
  auto it = view->NewIterator(kImsiRanges);
  it->SeekForPrev(U64Key(imsi));
  if (it->Valid()) {
    const std::string pointer(it->value());
    if (pointer.size() != 8) {
      return DataLossError("imsi_ranges/0x" + ToHex(AsBytes(it->key())) + ": value is not an 8-byte ICCID body");
    }
    SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, ReadKey(*view, kRanges, pointer));
    if (!v.has_value()) {
      return DataLossError("imsi_ranges/0x" + ToHex(AsBytes(it->key())) + " points to a missing range");
    }
    SIMKMS_ASSIGN_OR_RETURN(RangeRecord r, rep_->Decode(&DecodeRangeRecord, kRanges, pointer, AsBytes(*v)));
    if (r.ContainsImsi(imsi)) return r;
  }
  SIMKMS_RETURN_IF_ERROR(ScanStatus(*it, what));
  return NotFoundError(what + ": not in any range");
}

StatusOr<SubscriberRecord> Store::GetSubscriber(std::string_view imsi) const {
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, ReadKey(*rep_->engine, kSubscribers, imsi));
  if (!v.has_value()) return NotFoundError("subscriber " + Printable(imsi) + " not found");
  return rep_->Decode(&DecodeSubscriberRecord, kSubscribers, imsi, AsBytes(*v));
}

StatusOr<SubscriberRecord> Store::FindSubscriberByIccid(std::string_view iccid) const {
  SIMKMS_ASSIGN_OR_RETURN(std::unique_ptr<KvView> view, rep_->Snapshot());
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> imsi, ReadKey(*view, kIccidIndex, iccid));
  if (!imsi.has_value()) return NotFoundError("no subscriber with ICCID " + Printable(iccid));
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, ReadKey(*view, kSubscribers, *imsi));
  if (!v.has_value()) {
    return DataLossError("iccid_index/" + Printable(iccid) + " points to IMSI " + Printable(*imsi) +
                         ", which has no record");
  }
  SIMKMS_ASSIGN_OR_RETURN(SubscriberRecord r, rep_->Decode(&DecodeSubscriberRecord, kSubscribers, *imsi, AsBytes(*v)));
  if (r.iccid != iccid) {
    return DataLossError("iccid_index/" + Printable(iccid) + " points to IMSI " + r.imsi + ", whose ICCID is " +
                         r.iccid);
  }
  return r;
}

StatusOr<std::vector<SubscriberRecord>> Store::ListSubscribers(std::string_view after_imsi, std::size_t limit) const {
  std::vector<SubscriberRecord> out;
  SIMKMS_ASSIGN_OR_RETURN(std::unique_ptr<KvView> view, rep_->Snapshot());
  auto it = view->NewIterator(kSubscribers);
  it->Seek(after_imsi);
  if (it->Valid() && !after_imsi.empty() && it->key() == after_imsi) it->Next();
  for (; it->Valid() && out.size() < limit; it->Next()) {
    SIMKMS_ASSIGN_OR_RETURN(SubscriberRecord r, rep_->Decode(&DecodeSubscriberRecord, kSubscribers, it->key(), AsBytes(it->value())));
    out.push_back(std::move(r));
  }
  SIMKMS_RETURN_IF_ERROR(ScanStatus(*it, "list subscribers"));
  return out;
}

Status Store::ScanSubscribers(const SubscriberVisitor& visit) const {
  SIMKMS_ASSIGN_OR_RETURN(std::unique_ptr<KvView> view, rep_->Snapshot());
  auto it = view->NewIterator(kSubscribers);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    visit(it->key(),
          rep_->Decode(&DecodeSubscriberRecord, kSubscribers, it->key(), AsBytes(it->value())));
  }
  return ScanStatus(*it, "scan subscribers");
}

Status Store::ScanWrappedKeys(const WrappedKeyVisitor& visit) const {
  SIMKMS_ASSIGN_OR_RETURN(std::unique_ptr<KvView> view, rep_->Snapshot());
  auto it = view->NewIterator(kWrappedKeys);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    visit(it->key(),
          rep_->Decode(&DecodeWrappedKeyRecord, kWrappedKeys, it->key(), AsBytes(it->value())));
  }
  return ScanStatus(*it, "scan wrapped keys");
}

StatusOr<WrappedKeyRecord> Store::GetWrappedKey(std::string_view key_id) const {
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, ReadKey(*rep_->engine, kWrappedKeys, key_id));
  if (!v.has_value()) return NotFoundError("wrapped key '" + Printable(key_id) + "' not found");
  return rep_->Decode(&DecodeWrappedKeyRecord, kWrappedKeys, key_id, AsBytes(*v));
}

StatusOr<std::vector<WrappedKeyRecord>> Store::ListWrappedKeys() const {
  return rep_->ListAll(kWrappedKeys, &DecodeWrappedKeyRecord, "list wrapped keys");
}

StatusOr<Bytes> Store::GetMeta(std::string_view key) const {
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, ReadKey(*rep_->engine, kMeta, key));
  if (!v.has_value()) return NotFoundError("meta '" + Printable(key) + "' not found");
  return Bytes(v->begin(), v->end());
}

StatusOr<uint64_t> Store::CountKeys(std::string_view column_family) const {
  for (std::size_t c = 0; c < kNumCfs; ++c) {
    if (AllCfNames()[c] != column_family) continue;
    auto n = rep_->engine->CountKeys(static_cast<Cf>(c));
    if (!n.ok()) return n.status().WithContext("count " + std::string(column_family));
    return n;
  }
  return InvalidArgumentError("no column family '" + std::string(column_family) + "'");
}

}  // namespace simkms::storage
