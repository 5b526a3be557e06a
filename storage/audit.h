// The audit trail: an append-only chain of records, one per committed state change,
// each MAC'd by a token key and linked to its predecessor by hash, with a head
// checkpoint kept outside the database.
//
// Record n (n >= 1) is stored in CF "audit" under the 8-byte big-endian n. Its fields:
//   seq = n, the AuditEvent fields, prev_hash = SHA-256 of record n-1's full stored
//   encoding (32 zero bytes for n = 1), and mac = AuditMac over every byte of the
//   encoding that precedes the mac field (the mac field is always last).
// record_hash(n) = SHA-256 of record n's full stored encoding, mac included.
//
// What this detects (Store::VerifyAudit): any changed byte (MAC), a record deleted from
// the middle (sequence gap), inserted or reordered records (key/seq disagreement or
// prev_hash break), and a truncated tail or rewritten chain (checkpoint). What it cannot
// detect: an attacker who can both use the MAC key and rewrite the checkpoint store.
// The checkpoint may lag the chain by up to kMaxCheckpointLag records (see
// AuditCheckpointStore), so that many records appended by a holder of the MAC key are
// indistinguishable from a crash between a group's DB write and its checkpoint write.
//
// FORWARD-SECURE EPOCHS (docs/storage-format.md "Epochs"): with a forward-secure
// AuditMac every record also carries its epoch, and the MAC key evolves one way per
// epoch. The Store closes an epoch after a bounded number of records or seconds by
// appending an epoch-close record (MAC'd under the closing epoch's key, chained like
// any other) and then asking the AuditMac to make the next epoch current, which
// destroys the old key. A holder of the token at time T can then no longer MAC
// records of the epochs closed before T; the auditor, who holds the epoch-0 seed,
// checks every epoch offline with the same AuditChainVerifier.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace simkms::storage {

// What happened, as supplied by the caller. Every string is free text for humans and
// tools; `details` are ordered key/value pairs such as ("k1_kcv", "a1b2c3") or
// ("count", "10000000"). CONTRACT: details and every other field carry identifiers,
// counts and check values only, never key material, PINs, PUKs or activation codes
// in clear: the audit trail is readable by auditors and is not encrypted.
struct AuditEvent {
  int64_t time_ms = 0;         // unix milliseconds from the caller's clock
  std::string actor_role;      // e.g. "operator", "custodian", "sc"
  std::string actor_identity;  // e.g. TLS client CN, custodian name
  std::string event;           // e.g. "ver.add", "kms.init"; must not be empty
  std::string subject;         // ICCID, IMSI, VER, key id, ... (may be empty)
  std::vector<std::pair<std::string, std::string>> details;

  bool operator==(const AuditEvent&) const = default;
};

inline constexpr std::size_t kAuditHashSize = 32;  // SHA-256

// How far the checkpoint may lag the chain head and still be accepted (by the Store at
// the first commit after Open, and by AuditChainVerifier). The Store's group commit
// writes at most this many audit records in one synced batch and then ONE checkpoint,
// so a crash (or a failed checkpoint write) between the two leaves at most this lag.
// Every record in the lag is still checked (MAC and link) before it is accepted.
inline constexpr uint64_t kMaxCheckpointLag = 64;

// Events the Store writes itself; Commit refuses them from callers (except the
// restart, which only the restore ceremony's first commit may write).
//   kAuditEpochCloseEvent: the last record of an epoch, details epoch, records, next_epoch.
//   kAuditChainRestartEvent: the first record under a new epoch seed (a token restored
//     from the custodians' backup), linked by prev_hash to the old chain's head.
inline constexpr char kAuditEpochCloseEvent[] = "audit.epoch-close";
inline constexpr char kAuditChainRestartEvent[] = "audit.chain-restart";

// One stored audit record.
struct AuditRecord {
  uint64_t seq = 0;  // 1, 2, 3, ...
  // The epoch whose key MACs this record. Absent (has_epoch false) only in trails
  // written before epochs existed; the encoder always writes it.
  uint64_t epoch = 0;
  bool has_epoch = true;
  AuditEvent event;
  Bytes prev_hash;   // 32 bytes
  Bytes mac;         // as returned by AuditMac::Compute; non-empty

  bool is_epoch_close() const { return event.event == kAuditEpochCloseEvent; }
  bool is_chain_restart() const { return event.event == kAuditChainRestartEvent; }
  bool operator==(const AuditRecord&) const = default;
};

// Computes and checks the audit MAC (HMAC-SHA256 with a token key in the appliance;
// storage never holds the key). Implementations must be safe to call from several
// threads at once: Store::Commit calls Compute (and, when repairing a lagging
// checkpoint, Verify) under its commit mutex while Store::VerifyAudit may call Verify
// on any caller's thread.
//
// EPOCHS: a forward-secure implementation (forward_secure() true) holds the key of
// its current epoch only; CloseEpoch(e) makes e+1 current and destroys the keys of
// every epoch <= e, so records of closed epochs can no longer be MAC'd (nor checked)
// with it. An auditor's implementation holds the seed(s) and checks every epoch. The
// defaults describe a MAC with one key forever: epoch 0, never closed.
class AuditMac {
 public:
  virtual ~AuditMac() = default;
  // The MAC of data under the current epoch's key. A non-OK status (e.g.
  // Unavailable: token down) aborts the commit.
  virtual StatusOr<Bytes> Compute(ByteView data) = 0;
  // OK iff mac is the MAC of data under the current epoch's key; Unauthenticated if
  // it is not. Any other code means the check could not be made (VerifyAudit then
  // fails with that status rather than reporting a bad record).
  virtual Status Verify(ByteView data, ByteView mac) = 0;

  // True if the key evolves per epoch (the Store then closes epochs).
  virtual bool forward_secure() const { return false; }
  // The current epoch: the one Compute MACs under.
  virtual StatusOr<uint64_t> CurrentEpoch() { return uint64_t{0}; }
  // Verify under the key of `epoch`. `chain_start`: the record starts a chain (seq 1,
  // or a chain-restart record), so the key must come from a seed that starts at
  // `epoch` (an auditor holding several seeds must not accept a chain start forged
  // under an older seed's later key). OK / Unauthenticated as Verify;
  // FailedPrecondition if this MAC does not hold that epoch's key (destroyed when the
  // epoch closed; the record can then be checked only by the auditor).
  virtual Status VerifyInEpoch(uint64_t epoch, bool chain_start, ByteView data, ByteView mac) {
    (void)chain_start;
    // One key for ever: a record claiming another epoch was not MAC'd by it.
    if (epoch != 0) return UnauthenticatedError("audit MAC has no epochs; record claims epoch " + std::to_string(epoch));
    return Verify(data, mac);
  }
  // Makes epoch+1 current: creates its key, then destroys every key of an epoch <=
  // `epoch`. Idempotent, so that recovery after a crash between the two steps (or
  // before either) can call it again. Called only after the close record is durable.
  virtual Status CloseEpoch(uint64_t epoch) {
    return FailedPreconditionError("audit MAC has no epochs (cannot close epoch " + std::to_string(epoch) + ")");
  }
};

// An AuditMac that holds no key: a verifier with it checks everything but the MACs
// (sequence, epochs, links, checkpoint), counting every record in macs_unchecked. For
// reading a trail whose keys are gone, e.g. a restore reading where the old chain ends.
class LinksOnlyAuditMac : public AuditMac {
 public:
  StatusOr<Bytes> Compute(ByteView) override { return FailedPreconditionError("links-only audit check holds no key"); }
  Status Verify(ByteView, ByteView) override { return FailedPreconditionError("links-only audit check holds no key"); }
  bool forward_secure() const override { return true; }
  Status VerifyInEpoch(uint64_t, bool, ByteView, ByteView) override {
    return FailedPreconditionError("links-only audit check holds no key");
  }
};

// The head of the chain as last acknowledged outside the database.
struct AuditCheckpoint {
  uint64_t seq = 0;         // seq of the newest record the checkpoint vouches for
  Bytes record_hash;        // record_hash(seq), 32 bytes

  bool operator==(const AuditCheckpoint&) const = default;
};

// Keeps the checkpoint somewhere the DB's attacker cannot also rewrite (a file on
// another volume, a token data object, a remote log). Storage calls it only under the
// commit mutex, so implementations need not be thread-safe against themselves, but
// must be durable when Write returns OK.
//
// ORDERING: the Store writes the checkpoint once per commit group (up to
// kMaxCheckpointLag audit records in one synced batch), only after that batch is
// durable. Hence after a crash, or after a failed Write, the checkpoint equals the chain
// head or lags it by at most one group (<= kMaxCheckpointLag records); it never leads it.
// A lagging checkpoint is repaired by the next Commit before it writes anything, and
// Commit refuses to run while it cannot be repaired, so the lag never exceeds one group.
class AuditCheckpointStore {
 public:
  virtual ~AuditCheckpointStore() = default;
  // The stored checkpoint, or nullopt if none was ever written (an empty trail).
  virtual StatusOr<std::optional<AuditCheckpoint>> Read() = 0;
  virtual Status Write(const AuditCheckpoint& checkpoint) = 0;
};

// The head of a closed epoch: its epoch-close record's seq, record hash and MAC (under
// that epoch's key). What kmsd sends to the external witness when an epoch closes.
struct AuditEpochHead {
  uint64_t epoch = 0;
  uint64_t seq = 0;
  Bytes record_hash;  // 32 bytes
  Bytes mac;

  bool operator==(const AuditEpochHead&) const = default;
};

// Outcome of a chain walk.
struct AuditVerifyReport {
  bool ok = false;
  uint64_t records_checked = 0;  // records that passed every check
  uint64_t last_seq = 0;         // newest seq found in the DB (0: empty trail)
  uint64_t first_bad_seq = 0;    // 0 when ok; otherwise the first seq that failed
  std::string problem;           // empty when ok; names the record, e.g. "record 7: MAC mismatch"
  std::vector<std::string> notes;  // non-fatal observations (e.g. checkpoint lags by one)
  // Records whose MAC this verifier could not check because it no longer holds their
  // epoch's key (closed epochs, checked by links only; the auditor checks them).
  uint64_t macs_unchecked = 0;
  uint64_t last_epoch = 0;          // epoch of the newest record checked
  // Every closed epoch seen, in order, for comparing with an external witness.
  std::vector<AuditEpochHead> closed_epochs;
};

// The chain check behind Store::VerifyAudit, usable on its own (e.g. on an exported
// trail): feed every stored (key, value) pair in ascending key order, then Finish.
// Checks, in this order, for each record: key is an 8-byte seq equal to the expected
// next seq (else "record N missing ..."), value decodes, its epoch is the expected one
// (the first record's is where a chain starts; it advances by one only after an
// epoch-close record, or jumps forward at a chain-restart record), MAC verifies under
// that epoch's key (skipped and counted in macs_unchecked if `mac` no longer holds
// it), the record's seq equals its key (else reordered/moved), prev_hash equals the
// previous record's hash, and at the checkpoint's seq the hash equals the checkpoint's. Finish then compares
// the chain end with the checkpoint (truncation; a lag of up to kMaxCheckpointLag is a note, more a problem).
// Stops at the first problem. Not thread-safe; one instance per walk.
class AuditChainVerifier {
 public:
  // `mac` must outlive the verifier. `checkpoint`: nullopt if none was ever written.
  AuditChainVerifier(AuditMac& mac, std::optional<AuditCheckpoint> checkpoint);
  // Non-OK only if the check could not be made (mac.Verify returned a code other than
  // OK/Unauthenticated); problems with the data go into the report.
  [[nodiscard]] Status Add(ByteView key, ByteView value);
  // True once a problem was found (further Adds are ignored).
  bool failed() const { return !report_.problem.empty(); }
  AuditVerifyReport Finish();

 private:
  void Fail(uint64_t seq, std::string problem);

  AuditMac& mac_;
  std::optional<AuditCheckpoint> checkpoint_;
  uint64_t expected_ = 1;
  uint64_t expected_epoch_ = 0;  // epoch of the next record (after record 1)
  Bytes prev_hash_;
  AuditVerifyReport report_;
};

// Encoding of a stored audit record (format version 1; see docs/storage-format.md).
// Encode writes fields in tag order and the mac last.
Bytes EncodeAuditRecord(const AuditRecord& r);
// The bytes the MAC covers: the encoding of r without its mac field.
Bytes EncodeAuditRecordForMac(const AuditRecord& r);

struct DecodedAuditRecord {
  AuditRecord record;
  std::size_t mac_offset = 0;  // bytes [0, mac_offset) of the input are what the MAC covers
};
// DataLoss on malformed input (also: mac field missing, not last, or empty).
StatusOr<DecodedAuditRecord> DecodeAuditRecord(ByteView in);

// SHA-256 of data (record_hash when data is a record's full stored encoding).
Bytes AuditHash(ByteView data);

}  // namespace simkms::storage
