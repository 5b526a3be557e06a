// Test doubles and helpers for the storage tests (not part of the library):
//  - HmacAuditMac: HMAC-SHA256 with a fixed test key (the appliance uses a token key).
//  - InMemoryCheckpointStore, FaultyCheckpointStore (fails or "crashes" on the Nth call),
//    FileCheckpointStore (survives a forked child's _exit).
//  - RawDb (raw_database.h): opens a store's directory with RocksDB directly, for
//    corruption tests. The Store must be closed first (RocksDB's LOCK).
//  - Record factories with valid IMSIs/ICCIDs.
#pragma once

#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "storage/audit.h"
#include "storage/identifiers.h"
#include "storage/records.h"
#include "storage/store.h"
#include "storage/write_set.h"
#include "tests/storage/raw_database.h"
#include "tests/support/status_testing.h"

namespace simkms::storage::testing {

class HmacAuditMac : public AuditMac {
 public:
  explicit HmacAuditMac(std::string key = "simkms storage test audit key") : key_(std::move(key)) {}
  StatusOr<Bytes> Compute(ByteView data) override {
    ++compute_calls;
    if (fail_compute) return UnavailableError("test token down");
    return Hmac(data);
  }
  Status Verify(ByteView data, ByteView mac) override {
    if (fail_verify) return UnavailableError("test token down");
    return ConstantTimeEquals(Hmac(data), mac) ? OkStatus() : UnauthenticatedError("audit MAC mismatch");
  }
  Bytes Hmac(ByteView data) const {
    Bytes out(32);
    unsigned int len = 0;
    HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), data.data(), data.size(), out.data(), &len);
    out.resize(len);
    return out;
  }
  bool fail_compute = false;
  bool fail_verify = false;
  int compute_calls = 0;

 private:
  std::string key_;
};

class InMemoryCheckpointStore : public AuditCheckpointStore {
 public:
  StatusOr<std::optional<AuditCheckpoint>> Read() override { return value; }
  Status Write(const AuditCheckpoint& cp) override {
    value = cp;
    return OkStatus();
  }
  std::optional<AuditCheckpoint> value;
};

// Counts calls (1-based, Read and Write counted separately); fails the Write calls whose
// number is in fail_writes (or all from fail_writes_from on), fails Reads likewise, or
// _exit(0)s the process on write number crash_on_write (simulating power loss after
// the DB batch is durable and before the checkpoint is). Write number hold_write waits
// until ReleaseHeldWrite() (a slow token object: what a group's submissions see while
// its checkpoint is being written); WaitHeldWrite() waits until it has begun.
class FaultyCheckpointStore : public AuditCheckpointStore {
 public:
  explicit FaultyCheckpointStore(AuditCheckpointStore& inner) : inner_(inner) {}
  StatusOr<std::optional<AuditCheckpoint>> Read() override {
    ++reads;
    if (fail_all_reads) return UnavailableError("test checkpoint store: read failed");
    return inner_.Read();
  }
  Status Write(const AuditCheckpoint& cp) override {
    ++writes;
    if (writes == crash_on_write) _exit(0);
    if (writes == hold_write) {
      std::unique_lock<std::mutex> lock(hold_mu_);
      held_ = true;
      hold_cv_.notify_all();
      hold_cv_.wait(lock, [this] { return released_; });
    }
    if (writes == fail_write || (fail_writes_from > 0 && writes >= fail_writes_from)) {
      return UnavailableError("test checkpoint store: write " + std::to_string(writes) + " failed");
    }
    return inner_.Write(cp);
  }
  int reads = 0;
  int writes = 0;
  int fail_write = 0;        // fail exactly this write (0: none)
  int fail_writes_from = 0;  // fail this write and all later ones (0: none)
  int crash_on_write = 0;    // _exit(0) on this write (0: never)
  int hold_write = 0;        // hold this write until ReleaseHeldWrite (0: none)
  bool fail_all_reads = false;

  void WaitHeldWrite() {
    std::unique_lock<std::mutex> lock(hold_mu_);
    hold_cv_.wait(lock, [this] { return held_; });
  }
  void ReleaseHeldWrite() {
    std::lock_guard<std::mutex> lock(hold_mu_);
    released_ = true;
    hold_cv_.notify_all();
  }

 private:
  AuditCheckpointStore& inner_;
  std::mutex hold_mu_;
  std::condition_variable hold_cv_;
  bool held_ = false;
  bool released_ = false;
};

// A checkpoint in a file (seq as decimal, then hash as hex); good enough across fork().
class FileCheckpointStore : public AuditCheckpointStore {
 public:
  explicit FileCheckpointStore(std::filesystem::path path) : path_(std::move(path)) {}
  StatusOr<std::optional<AuditCheckpoint>> Read() override {
    std::ifstream in(path_);
    if (!in) return std::optional<AuditCheckpoint>();
    AuditCheckpoint cp;
    std::string hex;
    in >> cp.seq >> hex;
    SIMKMS_ASSIGN_OR_RETURN(cp.record_hash, FromHex(hex));
    return std::optional<AuditCheckpoint>(cp);
  }
  Status Write(const AuditCheckpoint& cp) override {
    const auto tmp = path_.string() + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << cp.seq << " " << ToHex(cp.record_hash) << "\n";
      if (!out.flush()) return UnavailableError("write " + tmp);
    }
    std::filesystem::rename(tmp, path_);
    return OkStatus();
  }

 private:
  std::filesystem::path path_;
};

inline std::string SeqKey(uint64_t seq) {
  std::string k(8, '\0');
  for (int i = 7; i >= 0; --i) {
    k[static_cast<std::size_t>(i)] = static_cast<char>(seq & 0xff);
    seq >>= 8;
  }
  return k;
}

// The PIN holder's rewrite of the audit trail (issue 11, finding 1), done to the DB
// directly (Store closed): every record of `old_trail` is deleted and `new_trail` is
// written in its place, renumbered from 1 and re-chained. `remac` is called on each
// record once its seq and link are final, to give it whatever MAC the attacker can
// make (the token's current epoch key) or leave the old one. Returns the new head,
// for the checkpoint object the attacker writes next.
template <typename Remac>
AuditCheckpoint RewriteAuditTrail(const std::string& db_path, const std::vector<AuditRecord>& old_trail,
                                  std::vector<AuditRecord> new_trail, Remac remac) {
  RawDb raw(db_path);
  for (const AuditRecord& r : old_trail) raw.Delete("audit", SeqKey(r.seq));
  Bytes prev(kAuditHashSize, 0);
  uint64_t seq = 0;
  for (AuditRecord& r : new_trail) {
    r.seq = ++seq;
    r.prev_hash = prev;
    remac(r);
    const Bytes encoded = EncodeAuditRecord(r);
    raw.Put("audit", SeqKey(r.seq), std::string(encoded.begin(), encoded.end()));
    prev = AuditHash(encoded);
  }
  return AuditCheckpoint{seq, prev};
}

inline Bytes ToBytes(const std::string& s) { return Bytes(s.begin(), s.end()); }
inline std::string ToString(const Bytes& b) { return std::string(b.begin(), b.end()); }

inline VerRecord TestVer(uint32_t ver = 1) {
  VerRecord r;
  r.ver = ver;
  r.profile = KeyProfile::kModern;
  r.dh_group = DhGroup::kFfdhe2048;
  r.op_ciphertext = Bytes{0xde, 0xad, 0xbe, 0xef, 0x01, 0x02};
  r.amf = Bytes{0x80, 0x00};
  r.k1_kcv = Bytes{0x1a, 0x2b, 0x3c};
  r.description = "test VER " + std::to_string(ver);
  r.created_at = 1700000000;
  return r;
}

inline RangeRecord TestRange(std::string id, uint64_t iccid_first, uint64_t imsi_first, uint64_t count,
                             uint32_t ver = 1) {
  RangeRecord r;
  r.id = std::move(id);
  r.manufacturer = "ACME Cards";
  r.ver = ver;
  r.iccid_first = iccid_first;
  r.imsi_first = imsi_first;
  r.count = count;
  r.created_at = 1700000100;
  return r;
}

// IMSI 00101000000000n, ICCID body 894901000000000000 + n (with Luhn digit).
inline SubscriberRecord TestSubscriber(uint64_t n, uint32_t ver = 1) {
  SubscriberRecord r;
  r.imsi = FormatImsi(1010000000000ULL + n);
  r.iccid = FormatIccid(894901000000000000ULL + n);
  r.ver = ver;
  r.state = SubscriberState::kContracted;
  r.hotline = true;
  r.order_id = "order-" + std::to_string(n);
  r.activation_code_hash = Bytes(32, 0x5a);
  r.activation_tries_left = 3;
  r.created_at = 1700000200;
  r.updated_at = 1700000200;
  return r;
}

inline WrappedKeyRecord TestWrappedKey(std::string id) {
  WrappedKeyRecord r;
  r.key_id = std::move(id);
  r.blob = Bytes(40, 0x42);
  r.kcv = Bytes{0x01, 0x02, 0x03};
  r.kek_kcv = Bytes{0x0a, 0x0b, 0x0c};
  r.mechanism = "CKM_AES_KEY_WRAP_KWP";
  r.created_at = 1700000300;
  return r;
}

inline AuditEvent TestEvent(std::string name, std::string subject = "", int64_t time_ms = 1700000000000) {
  AuditEvent e;
  e.time_ms = time_ms;
  e.actor_role = "operator";
  e.actor_identity = "CN=test-operator";
  e.event = std::move(name);
  e.subject = std::move(subject);
  e.details = {{"count", "1"}};
  return e;
}

}  // namespace simkms::storage::testing
