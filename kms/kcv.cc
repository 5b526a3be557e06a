#include "kms/kcv.h"

#include <cstring>

#include "kms/token_policy.h"

namespace simkms::kms {

StatusOr<Bytes> TokenKcv(p11::Session& session, CK_OBJECT_HANDLE key, std::string_view what) {
  SIMKMS_ASSIGN_OR_RETURN(Bytes type_bytes, session.GetAttribute(key, CKA_KEY_TYPE, what));
  if (type_bytes.size() != sizeof(CK_KEY_TYPE)) return InternalError("CKA_KEY_TYPE has an unexpected size");
  CK_KEY_TYPE type;
  std::memcpy(&type, type_bytes.data(), sizeof type);
  return TokenKcvOfType(session, key, type, what);
}

StatusOr<Bytes> TokenKcvOfType(p11::Session& session, CK_OBJECT_HANDLE key, CK_KEY_TYPE type, std::string_view what) {
  Bytes out;
  switch (type) {
    case CKK_AES: {
      const uint8_t zero[16] = {};
      SIMKMS_ASSIGN_OR_RETURN(out, session.Sign({CKM_AES_CMAC, nullptr, 0}, key, zero, std::string("KCV of ") += what));
      break;
    }
    case CKK_DES:
    case CKK_DES2:
    case CKK_DES3: {
      const uint8_t zero[8] = {};
      CK_MECHANISM m{type == CKK_DES ? CKM_DES_ECB : CKM_DES3_ECB, nullptr, 0};
      SIMKMS_ASSIGN_OR_RETURN(out, session.Encrypt(m, key, zero, std::string("KCV of ") += what));
      break;
    }
    case CKK_GENERIC_SECRET: {
      const uint8_t zero[32] = {};
      SIMKMS_ASSIGN_OR_RETURN(out,
                              session.Sign({CKM_SHA256_HMAC, nullptr, 0}, key, zero, std::string("KCV of ") += what));
      break;
    }
    default:
      return InvalidArgumentError("no KCV defined for key type " + std::to_string(type) + " of " + std::string(what));
  }
  if (out.size() < 3) return InternalError("KCV computation returned too few bytes");
  out.resize(3);
  return out;
}

uint32_t KcvUsage(CK_KEY_TYPE key_type) {
  return key_type == CKK_DES || key_type == CKK_DES2 || key_type == CKK_DES3 ? kEncrypt : kSign;
}

}  // namespace simkms::kms
