#include "sc-engine/protocol/ota_cipher.h"

#include <openssl/evp.h>
#include <openssl/params.h>

#include <memory>

#include "base/openssl_ptr.h"

namespace simkms::protocol {
StatusOr<SoftwareOtaCipher> SoftwareOtaCipher::Create(SecretBytes enc_key, SecretBytes mac_key) {
  if (enc_key.size() != 16 || mac_key.size() != 16) return InvalidArgumentError("OTA keys must be 16 bytes");
  return SoftwareOtaCipher(std::move(enc_key), std::move(mac_key));
}

StatusOr<Bytes> SoftwareOtaCipher::Cmac(ByteView data) {
  EvpMacPtr mac(EVP_MAC_fetch(nullptr, "CMAC", nullptr));
  EvpMacCtxPtr ctx(mac ? EVP_MAC_CTX_new(mac.get()) : nullptr);
  char cipher[] = "AES-128-CBC";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("cipher", cipher, 0), OSSL_PARAM_construct_end()};
  Bytes out(16);
  std::size_t len = 0;
  if (!ctx || EVP_MAC_init(ctx.get(), mac_.reveal().data(), mac_.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1 || len != 16) {
    return InternalError("AES-CMAC failed");
  }
  return out;
}

StatusOr<Bytes> SoftwareOtaCipher::Cbc(ByteView data, bool encrypt) {
  if (data.size() % 16 != 0) return InvalidArgumentError("CBC input is not a multiple of 16 bytes");
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  const uint8_t iv[16] = {};
  Bytes out(data.size() + 16);
  int len = 0;
  int fin = 0;
  if (!ctx ||
      EVP_CipherInit_ex2(ctx.get(), EVP_aes_128_cbc(), enc_.reveal().data(), iv, encrypt ? 1 : 0, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
      EVP_CipherUpdate(ctx.get(), out.data(), &len, data.data(), static_cast<int>(data.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), out.data() + len, &fin) != 1) {
    return InternalError("AES-CBC failed");
  }
  out.resize(static_cast<std::size_t>(len + fin));
  return out;
}

StatusOr<Bytes> SoftwareOtaCipher::EncryptCbc(ByteView data) { return Cbc(data, true); }
StatusOr<Bytes> SoftwareOtaCipher::DecryptCbc(ByteView data) { return Cbc(data, false); }

}  // namespace simkms::protocol
