// The audit trail as Store reads it: its head, its records, and the walk that
// verifies the chain (the writer's side is store_chain_head.cc and store_commit.cc).
#include "storage/store.h"

#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "storage/store_internal.h"

namespace simkms::storage {

StatusOr<AuditCheckpoint> Store::AuditHead() const {
  SIMKMS_ASSIGN_OR_RETURN(std::unique_ptr<KvView> view, rep_->Snapshot());
  SIMKMS_ASSIGN_OR_RETURN(Rep::Head head, rep_->LoadHead(*view));
  return AuditCheckpoint{head.seq, std::move(head.hash)};
}

StatusOr<std::vector<AuditRecord>> Store::ReadAudit(uint64_t from_seq, std::size_t limit) const {
  std::vector<AuditRecord> out;
  SIMKMS_ASSIGN_OR_RETURN(std::unique_ptr<KvView> view, rep_->Snapshot());
  auto it = view->NewIterator(kAudit);
  for (it->Seek(U64Key(from_seq)); it->Valid() && out.size() < limit; it->Next()) {
    uint64_t seq = 0;
    if (!ParseU64Key(it->key(), seq)) {
      return DataLossError("audit: key 0x" + ToHex(AsBytes(it->key())) + " is not an 8-byte sequence number");
    }
    auto decoded = DecodeAuditRecord(AsBytes(it->value()));
    if (!decoded.ok()) return decoded.status().WithContext("audit record " + std::to_string(seq));
    out.push_back(std::move(decoded->record));
  }
  SIMKMS_RETURN_IF_ERROR(ScanStatus(*it, "read audit"));
  return out;
}

namespace {

StatusOr<AuditVerifyReport> WalkAuditChain(KvIterator& it, AuditMac& mac,
                                           const std::optional<AuditCheckpoint>& checkpoint) {
  AuditChainVerifier verifier(mac, checkpoint);
  for (it.SeekToFirst(); it.Valid() && !verifier.failed(); it.Next()) {
    SIMKMS_RETURN_IF_ERROR(verifier.Add(AsBytes(it.key()), AsBytes(it.value())));
  }
  SIMKMS_RETURN_IF_ERROR(ScanStatus(it, "audit verify: scan"));
  AuditVerifyReport report = verifier.Finish();
  if (!report.ok) {
    // The walk stopped early: report where the trail really ends.
    it.SeekToLast();
    uint64_t last = 0;
    if (it.Valid() && ParseU64Key(it.key(), last)) report.last_seq = last;
    SIMKMS_RETURN_IF_ERROR(ScanStatus(it, "audit verify: seek to newest record"));
  }
  return report;
}

}  // namespace

StatusOr<AuditVerifyReport> Store::VerifyAudit(AuditMac& mac, const std::optional<AuditCheckpoint>& checkpoint) const {
  SIMKMS_ASSIGN_OR_RETURN(std::unique_ptr<KvView> view, rep_->Snapshot());
  auto it = view->NewIterator(kAudit);
  return WalkAuditChain(*it, mac, checkpoint);
}

StatusOr<AuditVerifyReport> Store::VerifyAudit() const {
  std::unique_ptr<KvView> view;
  std::optional<AuditCheckpoint> checkpoint;
  {
    // No commit in flight: the snapshot and the checkpoint describe the same moment.
    // A durable group whose checkpoint the writer is yet to write (it released the lock
    // to acknowledge the group's counter updates, store_commit.cc) is waited for.
    std::unique_lock<std::mutex> lock(rep_->commit_mu);
    rep_->checkpoint_written_cv.wait(lock, [this] { return !rep_->checkpoint_write_due; });
    SIMKMS_ASSIGN_OR_RETURN(view, rep_->Snapshot());
    auto read = rep_->checkpoints.Read();
    if (!read.ok()) return read.status().WithContext("audit verify: read checkpoint");
    checkpoint = std::move(read).value();
  }
  auto it = view->NewIterator(kAudit);
  return WalkAuditChain(*it, rep_->mac, checkpoint);
}

}  // namespace simkms::storage
