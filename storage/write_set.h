// WriteSet: the record changes of one commit, applied atomically by Store::Commit
// together with exactly one audit record.
//
// A WriteSet only collects operations; nothing is checked or written until Commit,
// which applies them in the order they were added, each seeing the effect of the
// earlier ones (e.g. PutVer then PutRange naming that VER is fine). If any operation is
// refused, the whole commit is refused and nothing is written.
//
// Threading: a WriteSet is a plain value; do not share one between threads while
// adding to it. Commit only reads it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "storage/records.h"

namespace simkms::storage {

class WriteSet {
 public:
  WriteSet();
  ~WriteSet();
  WriteSet(const WriteSet&);
  WriteSet& operator=(const WriteSet&);
  WriteSet(WriteSet&&) noexcept;
  WriteSet& operator=(WriteSet&&) noexcept;

  // Upsert. Refused (InvalidArgument) if the record fails ValidateVerRecord.
  void PutVer(VerRecord record);
  // NotFound if absent; FailedPrecondition while a range names the VER.
  void DeleteVer(uint32_t ver);
  // Create-only: AlreadyExists (naming the clashing range) if the ICCID or the IMSI
  // interval overlaps any stored range, or the id is taken; FailedPrecondition if the
  // VER does not exist. Adjacent intervals are fine.
  void PutRange(RangeRecord record);
  // NotFound if no range has this id. Subscribers already contracted from the range
  // are not touched.
  void DeleteRange(std::string id);
  // Upsert by IMSI; also maintains iccid_index (the old ICCID's entry is dropped if the
  // ICCID changed). AlreadyExists if the ICCID belongs to another IMSI;
  // FailedPrecondition if the VER does not exist. Storage does not check that the
  // IMSI/ICCID lie in a range: that is the caller's (policy's) rule.
  void PutSubscriber(SubscriberRecord record);
  // NotFound if absent; removes the iccid_index entry too.
  void DeleteSubscriber(std::string imsi);
  // Optimistic concurrency: at commit time the stored record must be exactly `current`
  // (byte-identical encoding), otherwise FailedPrecondition ("changed since read").
  // Use it for read-modify-write (SQN, tries left, state) racing other commits.
  void ExpectSubscriber(SubscriberRecord current);
  // At commit time no record may exist for this IMSI (AlreadyExists otherwise).
  void ExpectNoSubscriber(std::string imsi);
  // Upsert.
  void PutWrappedKey(WrappedKeyRecord record);
  // NotFound if absent.
  void DeleteWrappedKey(std::string key_id);
  // Small settings of other components (e.g. "kms.mk_kcv"). Keys are 1..256 bytes;
  // the prefix "storage." is reserved (InvalidArgument). Upsert / NotFound if absent.
  void PutMeta(std::string key, Bytes value);
  void DeleteMeta(std::string key);

  std::size_t size() const;
  bool empty() const { return size() == 0; }

  // For Store only.
  struct Op;
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
};

}  // namespace simkms::storage
