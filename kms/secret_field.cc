#include "kms/secret_field.h"

namespace simkms::kms {
namespace {

constexpr std::size_t kIvSize = 12;
constexpr std::size_t kTagSize = 16;

CK_GCM_PARAMS GcmParams(uint8_t* iv, std::string_view aad) {
  CK_GCM_PARAMS p{};
  p.pIv = iv;
  p.ulIvLen = kIvSize;
  p.ulIvBits = kIvSize * 8;
  p.pAAD = reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(aad.data()));
  p.ulAADLen = aad.size();
  p.ulTagBits = kTagSize * 8;
  return p;
}

}  // namespace

StatusOr<Bytes> SealField(p11::Session& session, CK_OBJECT_HANDLE key, std::string_view aad,
                          const SecretBytes& plaintext) {
  Bytes out(kIvSize);
  SIMKMS_RETURN_IF_ERROR(session.GenerateRandom(out.data(), kIvSize));
  CK_GCM_PARAMS params = GcmParams(out.data(), aad);
  SIMKMS_ASSIGN_OR_RETURN(Bytes sealed,
                          session.Encrypt({CKM_AES_GCM, &params, sizeof params}, key, plaintext.reveal(), aad));
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

StatusOr<SecretBytes> OpenField(p11::Session& session, CK_OBJECT_HANDLE key, std::string_view aad, ByteView sealed) {
  if (sealed.size() < kIvSize + kTagSize) {
    return DataLossError("sealed field for " + std::string(aad) + " is too short");
  }
  Bytes iv(sealed.begin(), sealed.begin() + kIvSize);
  CK_GCM_PARAMS params = GcmParams(iv.data(), aad);
  auto opened = session.Decrypt({CKM_AES_GCM, &params, sizeof params}, key, sealed.subspan(kIvSize), aad);
  if (!opened.ok() && opened.status().code() != StatusCode::kUnavailable) {
    return UnauthenticatedError("sealed field for " + std::string(aad) + " does not authenticate (" +
                                opened.status().message() + ")");
  }
  return opened;
}

}  // namespace simkms::kms
