// The token side of record MACs (storage/record_mac.h): HMAC-SHA256 with the
// token's record key ("simkms/record", a service key derived from MK like the
// others, so a restore from the custodians' backup recreates it).
//
// Every read of a subscriber or wrapped key checks a MAC, so this sits on the AuC's
// and the chip channel's hot paths: it owns a few sessions of its own (login state
// is shared by all sessions of the process), each behind its own mutex, rather
// than one session that every reader would queue for, and it does not compete
// with the crypto workers for their pooled sessions.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "pkcs11/session.h"
#include "storage/record_mac.h"

namespace simkms::kms {

class TokenRecordMac : public storage::RecordMac {
 public:
  // Opens `sessions` (>= 1) sessions on `slot` (the token must already be logged in)
  // and finds the record key. NotFound if the token has none (initialised before
  // record MACs: `kmsctl records seal` derives it from MK).
  static StatusOr<std::unique_ptr<TokenRecordMac>> Open(std::shared_ptr<p11::Module> module, CK_SLOT_ID slot,
                                                        std::size_t sessions = 4);
  StatusOr<Bytes> Compute(ByteView data) override;
  Status Verify(ByteView data, ByteView mac) override;

 private:
  struct Lane {
    explicit Lane(p11::Session s) : session(std::move(s)) {}
    std::mutex mu;
    p11::Session session;  // guarded by mu
  };
  TokenRecordMac(std::vector<std::unique_ptr<Lane>> lanes, CK_OBJECT_HANDLE key)
      : lanes_(std::move(lanes)), key_(key) {}
  // A free lane if there is one, else the next in turn (waiting for it).
  std::unique_lock<std::mutex> Take(Lane*& lane);

  std::vector<std::unique_ptr<Lane>> lanes_;
  std::atomic<std::size_t> next_{0};
  CK_OBJECT_HANDLE key_;  // a token object: valid in every session of the process
};

}  // namespace simkms::kms
