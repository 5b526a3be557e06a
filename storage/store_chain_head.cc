// The audit chain head the writer extends (Store::Rep, under commit_mu): reconciled
// with the checkpoint before the first commit after Open, and, with a forward-secure
// AuditMac, the epochs it closes (store.h, "AUDIT CHECKPOINT" and "AUDIT EPOCHS").
#include "storage/store.h"

#include <memory>
#include <optional>
#include <string>

#include "storage/store_internal.h"

namespace simkms::storage {

Status Store::Rep::SyncHeadLocked() {
  if (head_synced) {
    if (!checkpoint_pending) return OkStatus();
    Status w = checkpoints.Write(AuditCheckpoint{head_seq, head_hash});
    if (!w.ok()) {
      checkpoint_status = w;
      return UnavailableError("refusing to commit: the audit checkpoint for record " + std::to_string(head_seq) +
                              " still cannot be written (" + w.ToString() + ")");
    }
    checkpoint_pending = false;
    checkpoint_status = OkStatus();
    return OkStatus();
  }

  auto snapshot = Snapshot();
  if (!snapshot.ok()) return DatabaseStepLocked(snapshot.status());
  std::unique_ptr<KvView> view = std::move(snapshot).value();
  auto loaded = LoadHead(*view);
  if (!loaded.ok()) return DatabaseStepLocked(loaded.status());
  Head head = std::move(loaded).value();
  auto read = checkpoints.Read();
  if (!read.ok()) return read.status().WithContext("refusing to commit: read audit checkpoint");
  const std::optional<AuditCheckpoint>& cp = *read;
  const uint64_t cp_seq = cp.has_value() ? cp->seq : 0;
  const Bytes cp_hash = cp.has_value() ? cp->record_hash : Bytes(kAuditHashSize, 0);
  const std::string advice = "; run audit verify and re-seed the checkpoint store after investigation";

  if (cp_seq == head.seq) {
    if (head.seq > 0 && !ConstantTimeEquals(cp_hash, head.hash)) {
      return DataLossError("refusing to commit: audit record " + std::to_string(head.seq) +
                           " hash differs from checkpoint" + advice);
    }
  } else if (cp_seq < head.seq && head.seq - cp_seq <= kMaxCheckpointLag) {
    // The last group's checkpoint write did not happen (crash or store failure). Check
    // every record after the checkpoint (MAC, seq, link from the checkpointed hash)
    // before vouching for them.
    Bytes prev = cp_hash;
    uint64_t expected = cp_seq + 1;
    auto it = view->NewIterator(kAudit);
    for (it->Seek(U64Key(expected)); it->Valid() && expected <= head.seq; it->Next(), ++expected) {
      const std::string n = std::to_string(expected);
      uint64_t key_seq = 0;
      if (!ParseU64Key(it->key(), key_seq) || key_seq != expected) {
        return DataLossError("refusing to commit: audit record " + n + " missing" + advice);
      }
      auto decoded = DecodeAuditRecord(AsBytes(it->value()));
      if (!decoded.ok()) return decoded.status().WithContext("refusing to commit: audit record " + n);
      const AuditRecord& lagging = decoded->record;
      Status v = mac.VerifyInEpoch(lagging.epoch, lagging.seq == 1 || lagging.is_chain_restart(),
                                   AsBytes(it->value()).first(decoded->mac_offset), lagging.mac);
      if (v.code() == StatusCode::kUnauthenticated) {
        return DataLossError("refusing to commit: audit record " + n + ": MAC mismatch" + advice);
      }
      if (!v.ok()) return v.WithContext("refusing to commit: verify audit record " + n);
      if (decoded->record.seq != expected || !ConstantTimeEquals(decoded->record.prev_hash, prev)) {
        return DataLossError("refusing to commit: audit record " + n + " does not extend record " +
                             std::to_string(expected - 1) + (expected - 1 == cp_seq ? " (the checkpointed one)" : "") +
                             advice);
      }
      prev = AuditHash(AsBytes(it->value()));
    }
    SIMKMS_RETURN_IF_ERROR(DatabaseStepLocked(ScanStatus(*it, "audit: scan records after the checkpoint")));
    if (expected != head.seq + 1) {
      return DataLossError("refusing to commit: audit record " + std::to_string(expected) + " missing" + advice);
    }
    Status w = checkpoints.Write(AuditCheckpoint{head.seq, head.hash});
    if (!w.ok()) {
      checkpoint_pending = true;
      checkpoint_status = w;
      return UnavailableError("refusing to commit: cannot repair the audit checkpoint for record " +
                              std::to_string(head.seq) + " (" + w.ToString() + ")");
    }
  } else if (cp_seq > head.seq) {
    return DataLossError("refusing to commit: audit chain ends at " + std::to_string(head.seq) +
                         " but checkpoint says " + std::to_string(cp_seq) +
                         " (tail truncated, or DB restored from an older copy)" + advice);
  } else {
    return DataLossError("refusing to commit: audit chain ends at " + std::to_string(head.seq) +
                         " but checkpoint says " + std::to_string(cp_seq) +
                         " (more than " + std::to_string(kMaxCheckpointLag) + " records behind, the bound of one commit group: checkpoint rolled back?)" + advice);
  }
  SIMKMS_RETURN_IF_ERROR(LoadEpochStateLocked(head.value, head.seq));
  head_seq = head.seq;
  head_hash = head.hash;
  head_synced = true;
  checkpoint_pending = false;
  checkpoint_status = OkStatus();
  return OkStatus();
}

// Where the chain head leaves the epochs, against the MAC's current epoch. A head that
// is an epoch-close record whose key advance a crash interrupted (or left an old key
// behind) is finished here: CloseEpoch is idempotent.
Status Store::Rep::LoadEpochStateLocked(const std::string& head_value, uint64_t loaded_seq) {
  head_epoch = 0;
  epoch_records = 0;
  epoch_opened_ms = 0;
  epoch_advance_pending = false;
  restart_needed = false;
  close_deadline_ms.store(0);
  if (!mac.forward_secure()) return OkStatus();
  const std::string advice = "; run audit verify --auditor-key and investigate";
  SIMKMS_ASSIGN_OR_RETURN(uint64_t current, mac.CurrentEpoch());
  if (loaded_seq == 0) {
    head_epoch = current;  // a new chain starts where the seed starts
    return OkStatus();
  }
  auto decoded = DecodeAuditRecord(AsBytes(head_value));
  if (!decoded.ok()) return decoded.status().WithContext("refusing to commit: audit head record");
  const AuditRecord& rec = decoded->record;
  const std::string n = std::to_string(loaded_seq);
  if (!rec.has_epoch) {
    return FailedPreconditionError("refusing to commit: audit record " + n +
                                   " has no epoch (a trail from before forward-secure audit epochs needs a fresh "
                                   "ceremony, docs/storage-format.md)");
  }
  const uint64_t chain_next = rec.is_epoch_close() ? rec.epoch + 1 : rec.epoch;
  if (rec.is_epoch_close() && (current == rec.epoch || current == rec.epoch + 1)) {
    // Finish the advance (key of the next epoch missing, or the old one not yet destroyed).
    Status closed = mac.CloseEpoch(rec.epoch);
    if (!closed.ok()) {
      return closed.WithContext("refusing to commit: finish closing audit epoch " + std::to_string(rec.epoch));
    }
    SIMKMS_ASSIGN_OR_RETURN(current, mac.CurrentEpoch());
    // The witness may not have received this head before the process stopped; a
    // repeated head is harmless.
    if (options.on_epoch_closed) {
      options.on_epoch_closed(AuditEpochHead{rec.epoch, loaded_seq, AuditHash(AsBytes(head_value)), rec.mac});
    }
  }
  if (current < chain_next) {
    return DataLossError("refusing to commit: the audit key is in epoch " + std::to_string(current) +
                         " but the chain head (record " + n + ") is in epoch " + std::to_string(chain_next) +
                         " (an older key restored onto the token?)" + advice);
  }
  head_epoch = current;
  if (current > chain_next) {
    // A token whose epoch seed starts past the chain: a restore from the custodians'
    // backup. Only the restore ceremony's chain-restart record may follow.
    restart_needed = true;
    return OkStatus();
  }
  if (rec.is_epoch_close()) return OkStatus();
  // Count the open epoch's records (bounded: at most max_records are looked at).
  auto snapshot = Snapshot();
  if (!snapshot.ok()) return DatabaseStepLocked(snapshot.status());
  std::unique_ptr<KvView> view = std::move(snapshot).value();
  auto it = view->NewIterator(kAudit);
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    auto r = DecodeAuditRecord(AsBytes(it->value()));
    if (!r.ok()) return r.status().WithContext("refusing to commit: audit record of the open epoch");
    if (r->record.epoch != current || r->record.is_epoch_close()) break;
    ++epoch_records;
    epoch_opened_ms = r->record.event.time_ms;
    if (r->record.is_chain_restart() || epoch_records >= options.audit_epoch_max_records) break;
  }
  SIMKMS_RETURN_IF_ERROR(DatabaseStepLocked(ScanStatus(*it, "audit: scan the open epoch")));
  SetCloseDeadlineLocked();
  return OkStatus();
}

void Store::Rep::SetCloseDeadlineLocked() {
  close_deadline_ms.store(mac.forward_secure() && epoch_records > 0
                              ? epoch_opened_ms + options.audit_epoch_max_seconds * 1000
                              : 0);
}

bool Store::Rep::EpochDueLocked(int64_t now_ms) const {
  if (!mac.forward_secure() || epoch_records == 0) return false;
  return epoch_records >= options.audit_epoch_max_records ||
         now_ms - epoch_opened_ms >= options.audit_epoch_max_seconds * 1000;
}

// Step 2 of a close: the close record is durable and checkpointed; now the key moves.
Status Store::Rep::FinishEpochAdvanceLocked() {
  Status closed = mac.CloseEpoch(head_epoch);
  if (!closed.ok()) {
    return UnavailableError("refusing to commit: audit epoch " + std::to_string(head_epoch) +
                            " is closed in the trail but its key could not be advanced (" + closed.ToString() + ")");
  }
  const uint64_t closed_epoch = head_epoch;
  ++head_epoch;
  epoch_records = 0;
  epoch_advance_pending = false;
  SetCloseDeadlineLocked();
  if (options.on_epoch_closed) options.on_epoch_closed(AuditEpochHead{closed_epoch, head_seq, head_hash, close_mac});
  return OkStatus();
}

// Closes head_epoch: (1) the close record, MAC'd under the closing key, in a durable
// transaction of its own, (2) its checkpoint, (3) AuditMac::CloseEpoch (new key, old key
// destroyed). A crash after (1) or (2) is finished by LoadEpochStateLocked at the next
// start; a failure of (2) or (3) refuses commits until a retry succeeds, so no record
// is ever MAC'd under a closed epoch's key after its close record.
Status Store::Rep::CloseEpochLocked(int64_t now_ms) {
  AuditRecord record;
  record.seq = head_seq + 1;
  record.epoch = head_epoch;
  record.event = AuditEvent{now_ms, "storage", "audit-epochs", kAuditEpochCloseEvent, "",
                            {{"epoch", std::to_string(head_epoch)},
                             {"records", std::to_string(epoch_records)},
                             {"next_epoch", std::to_string(head_epoch + 1)}}};
  record.prev_hash = head_hash;
  const std::string ctx = "close audit epoch " + std::to_string(head_epoch);
  auto record_mac = mac.Compute(EncodeAuditRecordForMac(record));
  if (!record_mac.ok()) return record_mac.status().WithContext(ctx + ": compute audit MAC");
  record.mac = std::move(record_mac).value();
  const Bytes encoded = EncodeAuditRecord(record);
  auto begun = BeginTransaction(ctx);
  if (!begun.ok()) return DatabaseStepLocked(begun.status());
  std::unique_ptr<KvTransaction> txn = std::move(begun).value();
  txn->Put(kAudit, U64Key(record.seq), Chars(encoded));
  const Status ws = txn->Commit();
  if (!ws.ok()) {
    // Aborted or Unavailable: certainly not written (and the group may run again).
    // Otherwise the record may or may not be there: reload the head next time.
    if (!CommitNotWritten(ws)) head_synced = false;
    return DatabaseStepLocked(ws.WithContext(ctx + ": write the close record"));
  }
  head_seq = record.seq;
  head_hash = AuditHash(encoded);
  epoch_advance_pending = true;
  close_mac = record.mac;
  Status cs = checkpoints.Write(AuditCheckpoint{head_seq, head_hash});
  if (!cs.ok()) {
    checkpoint_pending = true;
    checkpoint_status = cs.WithContext("write audit checkpoint for record " + std::to_string(head_seq));
    return UnavailableError("refusing to commit: " + checkpoint_status.ToString());
  }
  return FinishEpochAdvanceLocked();
}

// Before a group's commits: finish a pending advance, then close the epoch if due.
Status Store::Rep::MaybeCloseEpochLocked() {
  if (!mac.forward_secure()) return OkStatus();
  if (epoch_advance_pending) SIMKMS_RETURN_IF_ERROR(FinishEpochAdvanceLocked());
  const int64_t now = NowMs();
  if (EpochDueLocked(now)) return CloseEpochLocked(now);
  return OkStatus();
}

}  // namespace simkms::storage
