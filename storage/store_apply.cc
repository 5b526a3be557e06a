// The apply rules: what each operation of a WriteSet, and each counter update, checks
// and puts into a commit group's transaction. They read through the transaction, so
// that a submission sees what the earlier ones of its group wrote.
#include "storage/store.h"

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "storage/identifiers.h"
#include "storage/store_internal.h"
#include "storage/write_set_internal.h"

namespace simkms::storage {

namespace {

constexpr std::string_view kReservedMetaPrefix = "storage.";

std::string DescribeIccidRange(const RangeRecord& r) {
  return "range '" + r.id + "' (ICCID bodies " + std::to_string(r.iccid_first) + ".." + std::to_string(r.iccid_last()) +
         ")";
}

std::string DescribeImsiRange(const RangeRecord& r) {
  return "range '" + r.id + "' (IMSIs " + FormatImsi(r.imsi_first) + ".." + FormatImsi(r.imsi_last()) + ")";
}

Status ValidateMetaKey(std::string_view key) {
  if (key.empty() || key.size() > 256) return InvalidArgumentError("meta key must be 1..256 bytes");
  if (key.starts_with(kReservedMetaPrefix)) {
    return InvalidArgumentError("meta key '" + std::string(key) + "' uses the reserved prefix 'storage.'");
  }
  return OkStatus();
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace

Status Store::Rep::RequireVerLocked(uint32_t ver, std::string_view who, KvTransaction& txn) {
  SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, ReadKey(txn, kVers, U32Key(ver)));
  if (!v.has_value()) {
    return FailedPreconditionError(std::string(who) + ": VER " + std::to_string(ver) + " does not exist");
  }
  return OkStatus();
}

StatusOr<std::optional<RangeRecord>> Store::Rep::FindPendingRangeById(std::string_view id,
                                                                      KvTransaction& txn) {
  // Ranges are few (one per manufacturer order), so a scan is fine.
  auto it = txn.NewIterator(kRanges);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    SIMKMS_ASSIGN_OR_RETURN(RangeRecord r,
                            Decode(&DecodeRangeRecord, kRanges, it->key(), AsBytes(it->value())));
    if (r.id == id) return std::optional<RangeRecord>(std::move(r));
  }
  SIMKMS_RETURN_IF_ERROR(ScanStatus(*it, "scan ranges"));
  return std::optional<RangeRecord>();
}

Status Store::Rep::CheckRangeOverlapLocked(const RangeRecord& r, KvTransaction& txn) {
  // Stored ranges never overlap, so only the nearest neighbour on each side can clash.
  {
    auto it = txn.NewIterator(kRanges);
    const std::string first = U64Key(r.iccid_first);
    it->SeekForPrev(first);
    if (it->Valid()) {
      SIMKMS_ASSIGN_OR_RETURN(RangeRecord prev,
                              Decode(&DecodeRangeRecord, kRanges, it->key(), AsBytes(it->value())));
      if (prev.iccid_last() >= r.iccid_first) {
        return AlreadyExistsError(DescribeIccidRange(r) + " overlaps " + DescribeIccidRange(prev));
      }
    }
    SIMKMS_RETURN_IF_ERROR(ScanStatus(*it, "ranges: seek"));
    it->Seek(first);
    if (it->Valid()) {
      SIMKMS_ASSIGN_OR_RETURN(RangeRecord next,
                              Decode(&DecodeRangeRecord, kRanges, it->key(), AsBytes(it->value())));
      if (next.iccid_first <= r.iccid_last()) {
        return AlreadyExistsError(DescribeIccidRange(r) + " overlaps " + DescribeIccidRange(next));
      }
    }
    SIMKMS_RETURN_IF_ERROR(ScanStatus(*it, "ranges: seek"));
  }
  {
    auto it = txn.NewIterator(kImsiRanges);
    const std::string first = U64Key(r.imsi_first);
    auto range_at = [&](std::string_view pointer) -> StatusOr<RangeRecord> {
      if (pointer.size() != 8) {
        return DataLossError("imsi_ranges/0x" + ToHex(AsBytes(it->key())) + ": value is not an 8-byte ICCID body");
      }
      SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, ReadKey(txn, kRanges, pointer));
      if (!v.has_value()) {
        return DataLossError("imsi_ranges/0x" + ToHex(AsBytes(it->key())) + " points to a missing range");
      }
      return Decode(&DecodeRangeRecord, kRanges, pointer, AsBytes(*v));
    };
    it->SeekForPrev(first);
    if (it->Valid()) {
      SIMKMS_ASSIGN_OR_RETURN(RangeRecord prev, range_at(it->value()));
      if (prev.imsi_last() >= r.imsi_first) {
        return AlreadyExistsError(DescribeImsiRange(r) + " overlaps " + DescribeImsiRange(prev));
      }
    }
    SIMKMS_RETURN_IF_ERROR(ScanStatus(*it, "imsi_ranges: seek"));
    it->Seek(first);
    if (it->Valid()) {
      SIMKMS_ASSIGN_OR_RETURN(RangeRecord next, range_at(it->value()));
      if (next.imsi_first <= r.imsi_last()) {
        return AlreadyExistsError(DescribeImsiRange(r) + " overlaps " + DescribeImsiRange(next));
      }
    }
    SIMKMS_RETURN_IF_ERROR(ScanStatus(*it, "imsi_ranges: seek"));
  }
  return OkStatus();
}

Status Store::Rep::ApplyLocked(const WriteSet::Op& operation, KvTransaction& txn) {
  auto put = [&](Cf c, std::string_view key, ByteView value) {
    txn.Put(c, key, Chars(value));
    return OkStatus();
  };
  auto put_record = [&](Cf c, std::string_view key, Bytes encoding) -> Status {
    SIMKMS_ASSIGN_OR_RETURN(Bytes sealed, Seal(c, key, std::move(encoding)));
    return put(c, key, sealed);
  };
  auto del = [&](Cf c, std::string_view key) {
    txn.Delete(c, key);
    return OkStatus();
  };
  auto get_subscriber = [&](std::string_view imsi) -> StatusOr<std::optional<SubscriberRecord>> {
    SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, ReadKey(txn, kSubscribers, imsi));
    if (!v.has_value()) return std::optional<SubscriberRecord>();
    SIMKMS_ASSIGN_OR_RETURN(SubscriberRecord r, Decode(&DecodeSubscriberRecord, kSubscribers, imsi, AsBytes(*v)));
    return std::optional<SubscriberRecord>(std::move(r));
  };

  return std::visit(
      Overloaded{
          [&](const op::PutVer& o) -> Status {
            SIMKMS_RETURN_IF_ERROR(ValidateVerRecord(o.record));
            return put_record(kVers, U32Key(o.record.ver), EncodeVerRecord(o.record));
          },
          [&](const op::DeleteVer& o) -> Status {
            const std::string what = "delete VER " + std::to_string(o.ver);
            SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, ReadKey(txn, kVers, U32Key(o.ver)));
            if (!v.has_value()) return NotFoundError(what + ": no such VER");
            auto it = txn.NewIterator(kRanges);
            for (it->SeekToFirst(); it->Valid(); it->Next()) {
              SIMKMS_ASSIGN_OR_RETURN(RangeRecord r, Decode(&DecodeRangeRecord, kRanges, it->key(), AsBytes(it->value())));
              if (r.ver == o.ver) return FailedPreconditionError(what + ": range '" + r.id + "' uses it");
            }
            SIMKMS_RETURN_IF_ERROR(ScanStatus(*it, "scan ranges"));
            return del(kVers, U32Key(o.ver));
          },
          [&](const op::PutRange& o) -> Status {
            const RangeRecord& r = o.record;
            SIMKMS_RETURN_IF_ERROR(ValidateRangeRecord(r));
            SIMKMS_RETURN_IF_ERROR(RequireVerLocked(r.ver, "range '" + r.id + "'", txn));
            SIMKMS_ASSIGN_OR_RETURN(std::optional<RangeRecord> same_id, FindPendingRangeById(r.id, txn));
            if (same_id.has_value()) return AlreadyExistsError("range id '" + r.id + "' already exists");
            SIMKMS_RETURN_IF_ERROR(CheckRangeOverlapLocked(r, txn));
            const std::string key = U64Key(r.iccid_first);
            SIMKMS_RETURN_IF_ERROR(put_record(kRanges, key, EncodeRangeRecord(r)));
            return put(kImsiRanges, U64Key(r.imsi_first), AsBytes(key));
          },
          [&](const op::DeleteRange& o) -> Status {
            SIMKMS_ASSIGN_OR_RETURN(std::optional<RangeRecord> r, FindPendingRangeById(o.id, txn));
            if (!r.has_value()) return NotFoundError("delete range '" + o.id + "': no such range");
            SIMKMS_RETURN_IF_ERROR(del(kRanges, U64Key(r->iccid_first)));
            return del(kImsiRanges, U64Key(r->imsi_first));
          },
          [&](const op::PutSubscriber& o) -> Status {
            const SubscriberRecord& r = o.record;
            SIMKMS_RETURN_IF_ERROR(ValidateSubscriberRecord(r));
            const std::string what = "subscriber " + r.imsi;
            SIMKMS_RETURN_IF_ERROR(RequireVerLocked(r.ver, what, txn));
            SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> owner, ReadKey(txn, kIccidIndex, r.iccid));
            if (owner.has_value() && *owner != r.imsi) {
              return AlreadyExistsError(what + ": ICCID " + r.iccid + " already belongs to IMSI " + Printable(*owner));
            }
            SIMKMS_ASSIGN_OR_RETURN(std::optional<SubscriberRecord> old, get_subscriber(r.imsi));
            if (old.has_value() && old->iccid != r.iccid) SIMKMS_RETURN_IF_ERROR(del(kIccidIndex, old->iccid));
            SIMKMS_RETURN_IF_ERROR(put_record(kSubscribers, r.imsi, EncodeSubscriberRecord(r)));
            return put(kIccidIndex, r.iccid, AsBytes(r.imsi));
          },
          [&](const op::DeleteSubscriber& o) -> Status {
            SIMKMS_ASSIGN_OR_RETURN(std::optional<SubscriberRecord> old, get_subscriber(o.imsi));
            if (!old.has_value()) return NotFoundError("delete subscriber " + Printable(o.imsi) + ": no such record");
            SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> owner, ReadKey(txn, kIccidIndex, old->iccid));
            if (owner.has_value() && *owner == o.imsi) SIMKMS_RETURN_IF_ERROR(del(kIccidIndex, old->iccid));
            return del(kSubscribers, o.imsi);
          },
          [&](const op::ExpectSubscriber& o) -> Status {
            SIMKMS_ASSIGN_OR_RETURN(std::optional<SubscriberRecord> now, get_subscriber(o.current.imsi));
            if (!now.has_value()) {
              return FailedPreconditionError("subscriber " + Printable(o.current.imsi) +
                                             ": changed since read (now absent)");
            }
            if (!(*now == o.current)) {
              return FailedPreconditionError("subscriber " + o.current.imsi + ": changed since read");
            }
            return OkStatus();
          },
          [&](const op::ExpectNoSubscriber& o) -> Status {
            SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, ReadKey(txn, kSubscribers, o.imsi));
            if (v.has_value()) return AlreadyExistsError("subscriber " + Printable(o.imsi) + " already exists");
            return OkStatus();
          },
          [&](const op::PutWrappedKey& o) -> Status {
            SIMKMS_RETURN_IF_ERROR(ValidateWrappedKeyRecord(o.record));
            return put_record(kWrappedKeys, o.record.key_id, EncodeWrappedKeyRecord(o.record));
          },
          [&](const op::DeleteWrappedKey& o) -> Status {
            SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, ReadKey(txn, kWrappedKeys, o.key_id));
            if (!v.has_value()) return NotFoundError("delete wrapped key '" + Printable(o.key_id) + "': no such key");
            return del(kWrappedKeys, o.key_id);
          },
          [&](const op::PutMeta& o) -> Status {
            SIMKMS_RETURN_IF_ERROR(ValidateMetaKey(o.key));
            return put(kMeta, o.key, o.value);
          },
          [&](const op::DeleteMeta& o) -> Status {
            SIMKMS_RETURN_IF_ERROR(ValidateMetaKey(o.key));
            SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, ReadKey(txn, kMeta, o.key));
            if (!v.has_value()) return NotFoundError("delete meta '" + Printable(o.key) + "': no such key");
            return del(kMeta, o.key);
          },
      },
      operation.v);
}

Status Store::Rep::ApplyCountersLocked(const std::vector<CounterUpdate>& updates,
                                       KvTransaction& txn) {
  std::set<std::string> seen;
  for (const CounterUpdate& u : updates) {
    if (!seen.insert(u.imsi).second) return InvalidArgumentError("advance counters: IMSI " + u.imsi + " given twice");
    // Through the transaction: an earlier submission of the same group may have moved them.
    SIMKMS_ASSIGN_OR_RETURN(std::optional<std::string> v, ReadKey(txn, kSubscribers, u.imsi));
    if (!v) return NotFoundError("advance counters: no subscriber " + u.imsi);
    SIMKMS_ASSIGN_OR_RETURN(SubscriberRecord r, Decode(&DecodeSubscriberRecord, kSubscribers, u.imsi, AsBytes(*v)));
    const Counters now{r.sqn, r.ota_counter_in, r.ota_counter_out};
    if (now != u.expected) {
      return FailedPreconditionError("advance counters: the counters of " + u.imsi + " moved (SQN " +
                                     std::to_string(r.sqn) + ", expected " + std::to_string(u.expected.sqn) + ")");
    }
    if (u.ota && r.ota != u.ota->expected) {
      return FailedPreconditionError("advance counters: the OTA bookkeeping of " + u.imsi + " moved");
    }
    r.sqn = u.next.sqn;
    r.ota_counter_in = u.next.ota_in;
    r.ota_counter_out = u.next.ota_out;
    if (u.ota) {
      r.ota = u.ota->next;
      SIMKMS_RETURN_IF_ERROR(ValidateSubscriberRecord(r).WithContext("advance counters"));
    }
    SIMKMS_ASSIGN_OR_RETURN(const Bytes encoded, Seal(kSubscribers, u.imsi, EncodeSubscriberRecord(r)));
    txn.Put(kSubscribers, u.imsi, Chars(encoded));
  }
  return OkStatus();
}

}  // namespace simkms::storage
