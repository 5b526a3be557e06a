#include "kms/token_record_mac.h"

#include "kms/token_keys.h"

namespace simkms::kms {

StatusOr<std::unique_ptr<TokenRecordMac>> TokenRecordMac::Open(std::shared_ptr<p11::Module> module, CK_SLOT_ID slot,
                                                               std::size_t sessions) {
  if (sessions == 0) return InvalidArgumentError("record MAC needs at least one session");
  std::vector<std::unique_ptr<Lane>> lanes;
  for (std::size_t i = 0; i < sessions; ++i) {
    SIMKMS_ASSIGN_OR_RETURN(p11::Session session, p11::Session::Open(module, slot));
    lanes.push_back(std::make_unique<Lane>(std::move(session)));
  }
  auto key = FindByLabel(lanes.front()->session, CKO_SECRET_KEY, labels::kRecordMac);
  if (!key.ok()) return key.status().WithContext("record MAC key (token from before record MACs: kmsctl records seal)");
  return std::unique_ptr<TokenRecordMac>(new TokenRecordMac(std::move(lanes), *key));
}

std::unique_lock<std::mutex> TokenRecordMac::Take(Lane*& lane) {
  const std::size_t start = next_.fetch_add(1, std::memory_order_relaxed);
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    Lane* candidate = lanes_[(start + i) % lanes_.size()].get();
    std::unique_lock lock(candidate->mu, std::try_to_lock);
    if (lock.owns_lock()) {
      lane = candidate;
      return lock;
    }
  }
  lane = lanes_[start % lanes_.size()].get();
  return std::unique_lock(lane->mu);
}

StatusOr<Bytes> TokenRecordMac::Compute(ByteView data) {
  Lane* lane = nullptr;
  auto lock = Take(lane);
  return lane->session.Sign({CKM_SHA256_HMAC, nullptr, 0}, key_, data, "record HMAC");
}

Status TokenRecordMac::Verify(ByteView data, ByteView mac) {
  Lane* lane = nullptr;
  auto lock = Take(lane);
  Status s = lane->session.Verify({CKM_SHA256_HMAC, nullptr, 0}, key_, data, mac, "record HMAC");
  // A MAC of the wrong length is a bad record, not a failure to check.
  if (!s.ok() && s.message().find("CKR_SIGNATURE_LEN_RANGE") != std::string::npos) {
    return UnauthenticatedError("record MAC has the wrong length");
  }
  return s;
}

}  // namespace simkms::kms
