#include "softcrypto/software_keys.h"

#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include <memory>
#include <mutex>

#include "base/openssl_ptr.h"
#include "base/secret_array.h"
#include "softcrypto/milenage.h"
#include "softcrypto/software_aes.h"

namespace simkms::kms {
namespace {

// ECB encryption of block-aligned data, no padding.
StatusOr<SecretBytes> EcbEncrypt(const char* cipher_name, const SecretBytes& key, ByteView data) {
  EvpCipherPtr cipher(EVP_CIPHER_fetch(nullptr, cipher_name, nullptr));
  if (!cipher) return InternalError(std::string("OpenSSL has no ") + cipher_name);
  if (static_cast<std::size_t>(EVP_CIPHER_get_key_length(cipher.get())) != key.size()) {
    return InvalidArgumentError(std::string(cipher_name) + " needs a " +
                                std::to_string(EVP_CIPHER_get_key_length(cipher.get())) + "-byte key, got " +
                                std::to_string(key.size()));
  }
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  SecretBytes out(data.size() + 16);
  int len = 0;
  int fin = 0;
  if (!ctx || EVP_EncryptInit_ex2(ctx.get(), cipher.get(), key.reveal().data(), nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.mutable_data(), &len, data.data(), static_cast<int>(data.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.mutable_data() + len, &fin) != 1) {
    return InternalError(std::string(cipher_name) + " encryption failed");
  }
  out.resize(static_cast<std::size_t>(len + fin));
  return out;
}

}  // namespace

void EnsureLegacyDesAvailable() {
  static std::once_flag once;
  std::call_once(once, [] {
    OSSL_PROVIDER_load(nullptr, "legacy");
    OSSL_PROVIDER_load(nullptr, "default");
  });
}

StatusOr<SecretBytes> SoftwareDeriveKi1(Profile profile, const SecretBytes& k1, std::string_view imsi) {
  SIMKMS_ASSIGN_OR_RETURN(DerivationBlock data, Ki1DerivationData(profile, imsi));
  if (profile == Profile::kLegacy) {
    if (k1.size() != 8) return InvalidArgumentError("legacy K1 must be 8 bytes");
    EnsureLegacyDesAvailable();
    return EcbEncrypt("DES-ECB", k1, data);
  }
  if (k1.size() != 16) return InvalidArgumentError("modern K1 must be 16 bytes");
  return EcbEncrypt("AES-128-ECB", k1, data);
}

StatusOr<Bytes> SoftwareDesKcv(const SecretBytes& key) {
  EnsureLegacyDesAvailable();
  const uint8_t zero[8] = {};
  const char* name = key.size() == 8 ? "DES-ECB" : key.size() == 16 ? "DES-EDE-ECB" : "DES-EDE3-ECB";
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes e, EcbEncrypt(name, key, zero));
  return Bytes(e.reveal().begin(), e.reveal().begin() + 3);
}

StatusOr<SecretBytes> SoftwareOpc(const SecretBytes& key, const SecretBytes& op) {
  SIMKMS_ASSIGN_OR_RETURN(SecretArray<16> op_block, SecretArray<16>::Copy(op, "OP"));
  SIMKMS_ASSIGN_OR_RETURN(auto aes, SoftwareAes128::Create(key));
  auto opc = ComputeOpc(*aes, op_block.reveal());
  if (!opc.ok()) return opc.status().WithContext("OPc");
  return SecretArray<16>::Take(*opc).ToSecretBytes();
}

StatusOr<Bytes> SoftwareAesKcv(const SecretBytes& key) {
  const char* cipher = key.size() == 16 ? "AES-128-CBC" : key.size() == 32 ? "AES-256-CBC" : nullptr;
  if (cipher == nullptr) return InvalidArgumentError("AES key must be 16 or 32 bytes");
  EvpMacPtr mac(EVP_MAC_fetch(nullptr, "CMAC", nullptr));
  EvpMacCtxPtr ctx(mac ? EVP_MAC_CTX_new(mac.get()) : nullptr);
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("cipher", const_cast<char*>(cipher), 0),
                         OSSL_PARAM_construct_end()};
  const uint8_t zero[16] = {};
  uint8_t out[16];
  std::size_t out_len = 0;
  if (!ctx || EVP_MAC_init(ctx.get(), key.reveal().data(), key.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), zero, sizeof zero) != 1 ||
      EVP_MAC_final(ctx.get(), out, &out_len, sizeof out) != 1) {
    return InternalError("AES-CMAC failed");
  }
  return Bytes(out, out + 3);
}

}  // namespace simkms::kms
