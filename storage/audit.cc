#include "storage/audit.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <string>

#include "storage/tlv.h"

namespace simkms::storage {

namespace {

constexpr uint8_t kFormatVersion = 1;

// Tags. Persisted: never renumber or reuse. kMac is always the last field.
constexpr uint8_t kSeq = 1, kTimeMs = 2, kActorRole = 3, kActorIdentity = 4, kEvent = 5, kSubject = 6,
                  kDetail = 7, kPrevHash = 8, kEpoch = 9, kMac = 255;

tlv::Writer WriteUnsigned(const AuditRecord& r) {
  tlv::Writer w(kFormatVersion);
  w.AddU64(kSeq, r.seq);
  w.AddI64(kTimeMs, r.event.time_ms);
  w.AddString(kActorRole, r.event.actor_role);
  w.AddString(kActorIdentity, r.event.actor_identity);
  w.AddString(kEvent, r.event.event);
  w.AddString(kSubject, r.event.subject);
  for (const auto& [key, value] : r.event.details) {
    Bytes d;
    tlv::AppendVarint(d, key.size());
    d.insert(d.end(), key.begin(), key.end());
    d.insert(d.end(), value.begin(), value.end());
    w.AddBytes(kDetail, d);
  }
  w.AddBytes(kPrevHash, r.prev_hash);
  w.AddU64(kEpoch, r.epoch);  // always written; absent only in trails from before epochs
  return w;
}

}  // namespace

Bytes EncodeAuditRecordForMac(const AuditRecord& r) { return std::move(WriteUnsigned(r)).Finish(); }

Bytes EncodeAuditRecord(const AuditRecord& r) {
  tlv::Writer w = WriteUnsigned(r);
  w.AddBytes(kMac, r.mac);
  return std::move(w).Finish();
}

StatusOr<DecodedAuditRecord> DecodeAuditRecord(ByteView in) {
  tlv::Reader reader(in, "audit record");
  SIMKMS_RETURN_IF_ERROR(reader.ReadVersion(kFormatVersion));
  DecodedAuditRecord out;
  AuditRecord& r = out.record;
  tlv::TagSet seen;
  bool have_mac = false;
  while (!reader.done()) {
    if (have_mac) return reader.Error("bytes after the mac field");
    SIMKMS_ASSIGN_OR_RETURN(tlv::Field f, reader.Next());
    if (f.tag != kDetail && f.tag <= kEpoch) {
      if (!seen.Insert(f.tag)) {
        return reader.Error("duplicate tag " + std::to_string(f.tag) + " at offset " + std::to_string(f.offset));
      }
    }
    switch (f.tag) {
      case kSeq: SIMKMS_RETURN_IF_ERROR(reader.AsU64(f, r.seq)); break;
      case kTimeMs: SIMKMS_RETURN_IF_ERROR(reader.AsI64(f, r.event.time_ms)); break;
      case kActorRole: tlv::Reader::AsString(f, r.event.actor_role); break;
      case kActorIdentity: tlv::Reader::AsString(f, r.event.actor_identity); break;
      case kEvent: tlv::Reader::AsString(f, r.event.event); break;
      case kSubject: tlv::Reader::AsString(f, r.event.subject); break;
      case kDetail: {
        std::size_t pos = 0;
        auto key_len = tlv::ReadVarint(f.value, pos);
        if (!key_len.ok()) {
          return reader.Error("detail at offset " + std::to_string(f.offset) + ": " + key_len.status().message());
        }
        if (*key_len > f.value.size() - pos) {
          return reader.Error("detail at offset " + std::to_string(f.offset) + ": key length runs past the field");
        }
        const auto* p = reinterpret_cast<const char*>(f.value.data());
        const std::size_t klen = static_cast<std::size_t>(*key_len);
        r.event.details.emplace_back(std::string(p + pos, klen),
                                     std::string(p + pos + klen, f.value.size() - pos - klen));
        break;
      }
      case kPrevHash:
        if (f.value.size() != kAuditHashSize) {
          return reader.Error("prev_hash is " + std::to_string(f.value.size()) + " bytes, expected 32");
        }
        tlv::Reader::AsBytes(f, r.prev_hash);
        break;
      case kEpoch: SIMKMS_RETURN_IF_ERROR(reader.AsU64(f, r.epoch)); break;
      case kMac:
        if (f.value.empty()) return reader.Error("empty mac");
        tlv::Reader::AsBytes(f, r.mac);
        out.mac_offset = f.offset;
        have_mac = true;
        break;
      default:
        break;  // a later version's field: skipped (but covered by the MAC)
    }
  }
  for (uint8_t tag : {kSeq, kTimeMs, kActorRole, kActorIdentity, kEvent, kSubject, kPrevHash}) {
    if (!seen.Contains(tag)) return reader.Error("required tag " + std::to_string(tag) + " missing");
  }
  r.has_epoch = seen.Contains(kEpoch);
  if (!have_mac) return reader.Error("mac field missing");
  if (r.seq == 0) return reader.Error("seq 0 (sequence numbers start at 1)");
  return out;
}

Bytes AuditHash(ByteView data) {
  Bytes out(kAuditHashSize);
  unsigned int len = 0;
  // EVP_Digest with SHA-256 cannot fail short of memory exhaustion; abort loudly if it does.
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != kAuditHashSize) {
    std::abort();
  }
  return out;
}

// ---------------------------------------------------------------- chain verification

AuditChainVerifier::AuditChainVerifier(AuditMac& mac, std::optional<AuditCheckpoint> checkpoint)
    : mac_(mac), checkpoint_(std::move(checkpoint)), prev_hash_(kAuditHashSize, 0) {}

void AuditChainVerifier::Fail(uint64_t seq, std::string problem) {
  report_.ok = false;
  report_.first_bad_seq = seq;
  report_.problem = std::move(problem);
}

Status AuditChainVerifier::Add(ByteView key, ByteView value) {
  if (failed()) return OkStatus();
  const uint64_t expected = expected_;
  const std::string n = std::to_string(expected);
  if (key.size() != 8) {
    Fail(expected, "audit key 0x" + ToHex(key) + " (after record " + std::to_string(expected - 1) +
                       ") is not an 8-byte sequence number");
    return OkStatus();
  }
  const uint64_t seq = tlv::ReadU64BE(key);
  report_.last_seq = seq;
  if (seq != expected) {
    if (expected == 1) {
      Fail(1, "record 1 missing (sequence starts at " + std::to_string(seq) + ")");
    } else {
      Fail(expected, "record " + n + " missing (sequence jumps " + std::to_string(expected - 1) + " -> " +
                         std::to_string(seq) + ")");
    }
    return OkStatus();
  }
  auto decoded = DecodeAuditRecord(value);
  if (!decoded.ok()) {
    Fail(seq, "record " + n + ": undecodable (" + decoded.status().message() + ")");
    return OkStatus();
  }
  const AuditRecord& rec = decoded->record;
  if (!rec.has_epoch && mac_.forward_secure()) {
    Fail(seq, "record " + n +
                  " has no epoch: it was written before forward-secure audit epochs, which this key cannot check "
                  "(such a trail needs a fresh ceremony, docs/storage-format.md)");
    return OkStatus();
  }
  // Epochs: a chain starts at record 1 (or at a chain-restart record, which may only
  // move forward) in whatever epoch its seed starts; otherwise the epoch is the
  // previous record's, plus one after an epoch-close record.
  const uint64_t epoch = rec.epoch;
  const bool chain_start = seq == 1 || (rec.is_chain_restart() && epoch >= expected_epoch_);
  if (!chain_start && epoch != expected_epoch_) {
    Fail(seq, "record " + n + ": epoch " + std::to_string(epoch) + ", expected " +
                  std::to_string(expected_epoch_) + " (an epoch ends only with an epoch-close record)");
    return OkStatus();
  }
  Status v = mac_.VerifyInEpoch(epoch, chain_start, value.first(decoded->mac_offset), rec.mac);
  if (v.code() == StatusCode::kUnauthenticated) {
    // The MAC's own words when they say more (e.g. no auditor seed starts a chain here).
    const bool plain = v.message().find("MAC mismatch") != std::string::npos;
    Fail(seq, "record " + n + ": MAC mismatch" + (plain ? "" : " (" + std::string(v.message()) + ")"));
    return OkStatus();
  }
  const bool mac_unchecked = v.code() == StatusCode::kFailedPrecondition;
  if (!v.ok() && !mac_unchecked) return v.WithContext("audit verify: record " + n);
  if (rec.seq != seq) {
    Fail(seq, "record " + n + ": key " + n + " holds record " + std::to_string(rec.seq) +
                  " (records reordered or moved)");
    return OkStatus();
  }
  if (!ConstantTimeEquals(rec.prev_hash, prev_hash_)) {
    Fail(seq, seq == 1 ? std::string("record 1: prev_hash is not the all-zero start of a chain")
                       : "record " + n + ": prev_hash does not match record " + std::to_string(seq - 1));
    return OkStatus();
  }
  Bytes hash = AuditHash(value);
  if (checkpoint_.has_value() && seq == checkpoint_->seq && !ConstantTimeEquals(hash, checkpoint_->record_hash)) {
    Fail(seq, "record " + n + " hash differs from checkpoint");
    return OkStatus();
  }
  ++report_.records_checked;
  if (mac_unchecked) ++report_.macs_unchecked;
  report_.last_epoch = epoch;
  expected_epoch_ = epoch;
  if (rec.is_epoch_close()) {
    report_.closed_epochs.push_back({epoch, seq, hash, rec.mac});
    expected_epoch_ = epoch + 1;
  }
  prev_hash_ = std::move(hash);
  ++expected_;
  return OkStatus();
}

AuditVerifyReport AuditChainVerifier::Finish() {
  if (failed()) return report_;
  const uint64_t cp_seq = checkpoint_.has_value() ? checkpoint_->seq : 0;
  const uint64_t last = expected_ - 1;
  report_.last_seq = last;
  const std::string l = std::to_string(last);
  const std::string c = std::to_string(cp_seq);
  if (last < cp_seq) {
    Fail(last + 1, "chain ends at " + l + " but checkpoint says " + c + ": tail truncated");
  } else if (last - cp_seq > kMaxCheckpointLag) {
    Fail(cp_seq + kMaxCheckpointLag + 1,
         "chain ends at " + l + " but " +
             (checkpoint_.has_value() ? "checkpoint says " + c : std::string("no checkpoint exists")) +
             ": the checkpoint may lag by " + std::to_string(kMaxCheckpointLag) +
             " records at most (checkpoint rolled back or lost?)");
  } else {
    if (last > cp_seq) {
      report_.notes.push_back((last == cp_seq + 1 ? "record " + l + " is"
                                                  : "records " + std::to_string(cp_seq + 1) + ".." + l + " are") +
                              " not yet covered by the checkpoint (" + c +
                              "): the last commit group's checkpoint write did not complete (crash or checkpoint "
                              "store failure); the next commit repairs it");
    }
    report_.ok = true;
    if (report_.macs_unchecked > 0) {
      report_.notes.push_back(std::to_string(report_.macs_unchecked) +
                              " records are in closed epochs whose keys this verifier no longer holds: their MACs "
                              "were not checked, their links were (the auditor checks them with audit verify "
                              "--auditor-key)");
    }
  }
  return report_;
}

}  // namespace simkms::storage
