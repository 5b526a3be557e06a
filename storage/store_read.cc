// The getters of Store: lock-free RocksDB reads, from one snapshot where a getter
// reads two keys (store.h, "READS").
#include "storage/store.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rocksdb/iterator.h>
#include <rocksdb/options.h>

#include "storage/store_internal.h"

namespace simkms::storage {
StatusOr<VerRecord> Store::GetVer(uint32_t ver) const {
  const std::string key = U32Key(ver);
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, rep_->Get(rocksdb::ReadOptions(), kVers, key));
  if (!v.has_value()) return NotFoundError("VER " + std::to_string(ver) + " not found");
  return rep_->Decode(&DecodeVerRecord, kVers, key, View(*v));
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
  auto it = rep_->Iter(rocksdb::ReadOptions(), kRanges);
  it->SeekForPrev(U64Key(iccid_body));
  if (it->Valid()) {
    SIMKMS_ASSIGN_OR_RETURN(RangeRecord r,
                            rep_->Decode(&DecodeRangeRecord, kRanges, it->key().ToStringView(), View(it->value())));
    if (r.ContainsIccidBody(iccid_body)) return r;
  }
  SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), what));
  return NotFoundError(what + ": not in any range");
}

StatusOr<RangeRecord> Store::FindRangeByImsi(uint64_t imsi) const {
  const std::string what = "range for IMSI " + std::to_string(imsi);
  SnapshotGuard snap(rep_->db.get());
  const rocksdb::ReadOptions ro = snap.Options();
  auto it = rep_->Iter(ro, kImsiRanges);
  it->SeekForPrev(U64Key(imsi));
  if (it->Valid()) {
    const std::string pointer = it->value().ToString();
    if (pointer.size() != 8) {
      return DataLossError("imsi_ranges/0x" + ToHex(View(it->key())) + ": value is not an 8-byte ICCID body");
    }
    SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, rep_->Get(ro, kRanges, pointer));
    if (!v.has_value()) {
      return DataLossError("imsi_ranges/0x" + ToHex(View(it->key())) + " points to a missing range");
    }
    SIMKMS_ASSIGN_OR_RETURN(RangeRecord r, rep_->Decode(&DecodeRangeRecord, kRanges, pointer, View(*v)));
    if (r.ContainsImsi(imsi)) return r;
  }
  SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), what));
  return NotFoundError(what + ": not in any range");
}

StatusOr<SubscriberRecord> Store::GetSubscriber(std::string_view imsi) const {
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, rep_->Get(rocksdb::ReadOptions(), kSubscribers, imsi));
  if (!v.has_value()) return NotFoundError("subscriber " + Printable(imsi) + " not found");
  return rep_->Decode(&DecodeSubscriberRecord, kSubscribers, imsi, View(*v));
}

StatusOr<SubscriberRecord> Store::FindSubscriberByIccid(std::string_view iccid) const {
  SnapshotGuard snap(rep_->db.get());
  const rocksdb::ReadOptions ro = snap.Options();
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> imsi, rep_->Get(ro, kIccidIndex, iccid));
  if (!imsi.has_value()) return NotFoundError("no subscriber with ICCID " + Printable(iccid));
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, rep_->Get(ro, kSubscribers, *imsi));
  if (!v.has_value()) {
    return DataLossError("iccid_index/" + Printable(iccid) + " points to IMSI " + Printable(*imsi) +
                         ", which has no record");
  }
  SIMKMS_ASSIGN_OR_RETURN(SubscriberRecord r, rep_->Decode(&DecodeSubscriberRecord, kSubscribers, *imsi, View(*v)));
  if (r.iccid != iccid) {
    return DataLossError("iccid_index/" + Printable(iccid) + " points to IMSI " + r.imsi + ", whose ICCID is " +
                         r.iccid);
  }
  return r;
}

StatusOr<std::vector<SubscriberRecord>> Store::ListSubscribers(std::string_view after_imsi, std::size_t limit) const {
  std::vector<SubscriberRecord> out;
  auto it = rep_->Iter(rocksdb::ReadOptions(), kSubscribers);
  it->Seek(rocksdb::Slice(after_imsi.data(), after_imsi.size()));
  if (it->Valid() && !after_imsi.empty() && it->key().ToStringView() == after_imsi) it->Next();
  for (; it->Valid() && out.size() < limit; it->Next()) {
    SIMKMS_ASSIGN_OR_RETURN(SubscriberRecord r, rep_->Decode(&DecodeSubscriberRecord, kSubscribers, it->key().ToStringView(), View(it->value())));
    out.push_back(std::move(r));
  }
  SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), "list subscribers"));
  return out;
}

Status Store::ScanSubscribers(const SubscriberVisitor& visit) const {
  SnapshotGuard snap(rep_->db.get());
  auto it = rep_->Iter(snap.Options(), kSubscribers);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    visit(it->key().ToStringView(),
          rep_->Decode(&DecodeSubscriberRecord, kSubscribers, it->key().ToStringView(), View(it->value())));
  }
  return FromRocks(it->status(), "scan subscribers");
}

Status Store::ScanWrappedKeys(const WrappedKeyVisitor& visit) const {
  SnapshotGuard snap(rep_->db.get());
  auto it = rep_->Iter(snap.Options(), kWrappedKeys);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    visit(it->key().ToStringView(),
          rep_->Decode(&DecodeWrappedKeyRecord, kWrappedKeys, it->key().ToStringView(), View(it->value())));
  }
  return FromRocks(it->status(), "scan wrapped keys");
}

StatusOr<WrappedKeyRecord> Store::GetWrappedKey(std::string_view key_id) const {
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, rep_->Get(rocksdb::ReadOptions(), kWrappedKeys, key_id));
  if (!v.has_value()) return NotFoundError("wrapped key '" + Printable(key_id) + "' not found");
  return rep_->Decode(&DecodeWrappedKeyRecord, kWrappedKeys, key_id, View(*v));
}

StatusOr<std::vector<WrappedKeyRecord>> Store::ListWrappedKeys() const {
  return rep_->ListAll(kWrappedKeys, &DecodeWrappedKeyRecord, "list wrapped keys");
}

StatusOr<Bytes> Store::GetMeta(std::string_view key) const {
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, rep_->Get(rocksdb::ReadOptions(), kMeta, key));
  if (!v.has_value()) return NotFoundError("meta '" + Printable(key) + "' not found");
  return Bytes(v->begin(), v->end());
}

StatusOr<uint64_t> Store::CountKeys(std::string_view column_family) const {
  for (std::size_t c = 0; c < kNumCfs; ++c) {
    if (AllCfNames()[c] != column_family) continue;
    uint64_t n = 0;
    auto it = rep_->Iter(rocksdb::ReadOptions(), static_cast<Cf>(c));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    SIMKMS_RETURN_IF_ERROR(FromRocks(it->status(), "count " + std::string(column_family)));
    return n;
  }
  return InvalidArgumentError("no column family '" + std::string(column_family) + "'");
}

}  // namespace simkms::storage
