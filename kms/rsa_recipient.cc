#include "kms/rsa_recipient_internal.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "kms/token_policy.h"

namespace simkms::kms {
namespace {

constexpr int kMinRsaBits = 2048;

StatusOr<Bytes> BnParam(EVP_PKEY* key, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) return InternalError(std::string("cannot read RSA ") + name);
  BignumPtr bn(raw);
  Bytes out(static_cast<std::size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), out.data());
  return out;
}

}  // namespace

StatusOr<EvpPkeyPtr> ParseRsaPem(const std::string& pem, bool is_private, std::string_view who) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EvpPkeyPtr key(is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                            : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return InvalidArgumentError(is_private ? "not a PEM private key" : "not a PEM public key (SPKI)");
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) return InvalidArgumentError(std::string(who) + " key is not RSA");
  if (EVP_PKEY_get_bits(key.get()) < kMinRsaBits) {
    return InvalidArgumentError(std::string(who) + " RSA key has " + std::to_string(EVP_PKEY_get_bits(key.get())) +
                                " bits; at least 2048 required");
  }
  return key;
}

StatusOr<Bytes> SpkiSha256(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  if (len <= 0) return InternalError("cannot encode the public key");
  Bytes digest(32);
  unsigned int dlen = 0;
  int ok = EVP_Digest(der, static_cast<std::size_t>(len), digest.data(), &dlen, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (ok != 1) return InternalError("SHA-256 failed");
  return digest;
}

StatusOr<Bytes> WrapForRecipient(p11::Session& session, EVP_PKEY* recipient, CK_OBJECT_HANDLE key,
                                 std::string_view what) {
  SIMKMS_ASSIGN_OR_RETURN(Bytes n, BnParam(recipient, OSSL_PKEY_PARAM_RSA_N));
  SIMKMS_ASSIGN_OR_RETURN(Bytes e, BnParam(recipient, OSSL_PKEY_PARAM_RSA_E));
  p11::Attributes pub_template;
  pub_template.Ulong(CKA_CLASS, CKO_PUBLIC_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_RSA)
      .Bool(CKA_TOKEN, false)
      .Blob(CKA_MODULUS, n)
      .Blob(CKA_PUBLIC_EXPONENT, e);
  SetUsage(pub_template, kWrap, CKO_PUBLIC_KEY);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject pub, session.CreateObject(pub_template, "recipient RSA key"));
  CK_RSA_PKCS_OAEP_PARAMS oaep{CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
  return session.WrapKey({CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep}, pub.get(), key, what);
}

StatusOr<SecretBytes> UnwrapAsRecipient(EVP_PKEY* private_key, const Bytes& wrapped, std::string_view what) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(private_key, nullptr));
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha1()) != 1) {
    return InternalError("cannot set up RSA-OAEP decryption");
  }
  std::size_t len = 0;
  if (EVP_PKEY_decrypt(ctx.get(), nullptr, &len, wrapped.data(), wrapped.size()) != 1) {
    return InvalidArgumentError("wrapped " + std::string(what) + " does not decrypt");
  }
  SecretBytes out(len);
  if (EVP_PKEY_decrypt(ctx.get(), out.mutable_data(), &len, wrapped.data(), wrapped.size()) != 1) {
    return InvalidArgumentError("wrapped " + std::string(what) + " does not decrypt under this private key");
  }
  out.resize(len);
  return out;
}

}  // namespace simkms::kms
