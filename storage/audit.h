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

// One stored audit record.
struct AuditRecord {
  uint64_t seq = 0;  // 1, 2, 3, ...
  AuditEvent event;
  Bytes prev_hash;   // 32 bytes
  Bytes mac;         // as returned by AuditMac::Compute; non-empty

  bool operator==(const AuditRecord&) const = default;
};

// Computes and checks the audit MAC (HMAC-SHA256 with a token key in the appliance;
// storage never holds the key). Implementations must be safe to call from several
// threads at once: Store::Commit calls Compute (and, when repairing a lagging
// checkpoint, Verify) under its commit mutex while Store::VerifyAudit may call Verify
// on any caller's thread.
class AuditMac {
 public:
  virtual ~AuditMac() = default;
  // The MAC of data. A non-OK status (e.g. Unavailable: token down) aborts the commit.
  virtual StatusOr<Bytes> Compute(ByteView data) = 0;
  // OK iff mac is the MAC of data; Unauthenticated if it is not. Any other code means
  // the check could not be made (VerifyAudit then fails with that status rather than
  // reporting a bad record).
  virtual Status Verify(ByteView data, ByteView mac) = 0;
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

// Outcome of a chain walk.
struct AuditVerifyReport {
  bool ok = false;
  uint64_t records_checked = 0;  // records that passed every check
  uint64_t last_seq = 0;         // newest seq found in the DB (0: empty trail)
  uint64_t first_bad_seq = 0;    // 0 when ok; otherwise the first seq that failed
  std::string problem;           // empty when ok; names the record, e.g. "record 7: MAC mismatch"
  std::vector<std::string> notes;  // non-fatal observations (e.g. checkpoint lags by one)
};

// The chain check behind Store::VerifyAudit, usable on its own (e.g. on an exported
// trail): feed every stored (key, value) pair in ascending key order, then Finish.
// Checks, in this order, for each record: key is an 8-byte seq equal to the expected
// next seq (else "record N missing ..."), value decodes, MAC verifies, the record's seq
// equals its key (else reordered/moved), prev_hash equals the previous record's hash,
// and at the checkpoint's seq the hash equals the checkpoint's. Finish then compares
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
