#include "kms/ceremony_token.h"

namespace simkms::kms {

StatusOr<CeremonyToken> CeremonyToken::Open(p11::Session& ceremony, p11::Session& runtime) {
  auto mk = FindByLabel(ceremony, CKO_SECRET_KEY, labels::kMasterKey);
  if (!mk.ok()) return mk.status().WithContext("ceremony token not initialised by a key ceremony (kmsctl init)");
  return CeremonyToken(ceremony, *mk, runtime);
}

StatusOr<TransportReceiver*> CeremonyToken::receiver() {
  if (!receiver_) {
    SIMKMS_ASSIGN_OR_RETURN(TransportReceiver r, TransportReceiver::Open(*runtime_));
    receiver_ = std::make_unique<TransportReceiver>(std::move(r));
  }
  return receiver_.get();
}

StatusOr<ServiceKeys> CeremonyToken::MoveServiceKeys() {
  SIMKMS_ASSIGN_OR_RETURN(TransportReceiver * r, receiver());
  return kms::MoveServiceKeys(*ceremony_, mk_, *runtime_, *r);
}

StatusOr<std::vector<std::string>> CeremonyToken::MoveMissingServiceKeys() {
  SIMKMS_ASSIGN_OR_RETURN(TransportReceiver * r, receiver());
  return kms::MoveMissingServiceKeys(*ceremony_, mk_, *runtime_, *r);
}

StatusOr<CK_OBJECT_HANDLE> CeremonyToken::EnsureK1(uint32_t ver, Profile profile, bool* moved) {
  auto existing = FindK1(*runtime_, ver);
  if (existing.ok()) {
    *moved = false;
    return existing;
  }
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();
  SIMKMS_ASSIGN_OR_RETURN(TransportReceiver * r, receiver());
  *moved = true;
  return MoveK1(*ceremony_, mk_, *runtime_, *r, ver, profile);
}

StatusOr<Bytes> CeremonyToken::K1Kcv(uint32_t ver, Profile profile) {
  return kms::K1Kcv(*ceremony_, mk_, ver, profile);
}

}  // namespace simkms::kms
