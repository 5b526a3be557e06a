#include "kms/k1_export.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "kms/software_keys.h"

namespace simkms::kms {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

constexpr int kMinRsaBits = 2048;

StatusOr<Pkey> ParsePem(const std::string& pem, bool is_private) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Pkey key(is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                      : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return InvalidArgumentError(is_private ? "not a PEM private key" : "not a PEM public key (SPKI)");
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) return InvalidArgumentError("manufacturer key is not RSA");
  if (EVP_PKEY_get_bits(key.get()) < kMinRsaBits) {
    return InvalidArgumentError("manufacturer RSA key has " + std::to_string(EVP_PKEY_get_bits(key.get())) +
                                " bits; at least 2048 required");
  }
  return key;
}

StatusOr<Bytes> BnParam(EVP_PKEY* key, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) return InternalError(std::string("cannot read RSA ") + name);
  std::unique_ptr<BIGNUM, BnFree> bn(raw);
  Bytes out(static_cast<std::size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), out.data());
  return out;
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

}  // namespace

std::string K1Export::ToJson() const {
  nlohmann::ordered_json j;
  j["format"] = kK1ExportFormat;
  j["ver"] = ver;
  j["profile"] = std::string(ProfileName(profile));
  j["key_type"] = profile == Profile::kLegacy ? "DES" : "AES-128";
  j["manufacturer"] = manufacturer;
  j["kcv"] = ToHex(kcv);
  j["wrapping"] = wrapping;
  j["recipient_spki_sha256"] = ToHex(recipient_spki_sha256);
  j["wrapped_k1"] = ToHex(wrapped_k1);
  return j.dump(2) + "\n";
}

StatusOr<K1Export> K1Export::FromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgumentError("K1 export file is not JSON");
  auto str = [&](const char* field) -> StatusOr<std::string> {
    if (!j.contains(field) || !j[field].is_string()) {
      return InvalidArgumentError(std::string("K1 export file lacks string field '") + field + "'");
    }
    return j[field].get<std::string>();
  };
  K1Export e;
  SIMKMS_ASSIGN_OR_RETURN(std::string format, str("format"));
  if (format != kK1ExportFormat) return InvalidArgumentError("unknown K1 export format '" + format + "'");
  if (!j.contains("ver") || !j["ver"].is_number_unsigned() || j["ver"].get<uint64_t>() > UINT32_MAX) {
    return InvalidArgumentError("K1 export file has no valid 'ver'");
  }
  e.ver = j["ver"].get<uint32_t>();
  SIMKMS_ASSIGN_OR_RETURN(std::string profile, str("profile"));
  SIMKMS_ASSIGN_OR_RETURN(e.profile, ParseProfile(profile));
  SIMKMS_ASSIGN_OR_RETURN(e.manufacturer, str("manufacturer"));
  SIMKMS_ASSIGN_OR_RETURN(e.wrapping, str("wrapping"));
  if (e.wrapping != kK1Wrapping) return InvalidArgumentError("unknown K1 wrapping '" + e.wrapping + "'");
  SIMKMS_ASSIGN_OR_RETURN(std::string kcv, str("kcv"));
  SIMKMS_ASSIGN_OR_RETURN(e.kcv, FromHex(kcv));
  SIMKMS_ASSIGN_OR_RETURN(std::string spki, str("recipient_spki_sha256"));
  SIMKMS_ASSIGN_OR_RETURN(e.recipient_spki_sha256, FromHex(spki));
  SIMKMS_ASSIGN_OR_RETURN(std::string wrapped, str("wrapped_k1"));
  SIMKMS_ASSIGN_OR_RETURN(e.wrapped_k1, FromHex(wrapped));
  if (e.kcv.size() != 3) return InvalidArgumentError("K1 export KCV must be 3 bytes");
  return e;
}

StatusOr<K1Export> ExportK1(p11::Session& session, CK_OBJECT_HANDLE mk, uint32_t ver, Profile profile,
                            const std::string& manufacturer, const std::string& public_key_pem) {
  if (manufacturer.empty()) return InvalidArgumentError("manufacturer name is empty");
  SIMKMS_ASSIGN_OR_RETURN(Pkey pub, ParsePem(public_key_pem, /*is_private=*/false));
  SIMKMS_ASSIGN_OR_RETURN(Bytes n, BnParam(pub.get(), OSSL_PKEY_PARAM_RSA_N));
  SIMKMS_ASSIGN_OR_RETURN(Bytes e, BnParam(pub.get(), OSSL_PKEY_PARAM_RSA_E));

  p11::Attributes pub_template;
  pub_template.Ulong(CKA_CLASS, CKO_PUBLIC_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_RSA)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_WRAP, true)
      .Blob(CKA_MODULUS, n)
      .Blob(CKA_PUBLIC_EXPONENT, e);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject recipient, session.CreateObject(pub_template, "manufacturer RSA key"));

  const bool legacy = profile == Profile::kLegacy;
  Bytes data = MasterDerivationData(legacy ? KeyPurpose::kK1Legacy : KeyPurpose::kK1Modern, ver, 16);
  CK_KEY_DERIVATION_STRING_DATA params{data.data(), static_cast<CK_ULONG>(data.size())};
  p11::Attributes copy_template;
  copy_template.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, legacy ? CKK_DES : CKK_AES)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, true)
      .Bool(CKA_ENCRYPT, legacy)
      .Bool(CKA_SIGN, !legacy);
  if (!legacy) copy_template.Ulong(CKA_VALUE_LEN, 16);
  SIMKMS_ASSIGN_OR_RETURN(
      p11::ScopedObject k1_copy,
      session.DeriveKey({CKM_AES_ECB_ENCRYPT_DATA, &params, sizeof params}, mk, copy_template, "K1 export copy"));

  K1Export out;
  out.ver = ver;
  out.profile = profile;
  out.manufacturer = manufacturer;
  out.wrapping = kK1Wrapping;
  SIMKMS_ASSIGN_OR_RETURN(out.recipient_spki_sha256, SpkiSha256(pub.get()));
  // SoftHSM 2.6 wraps with OAEP only over SHA-1 (SHA-256 gives CKR_ARGUMENTS_BAD).
  // OAEP's security does not rest on SHA-1's collision resistance; SP 800-131A
  // keeps SHA-1 acceptable outside signatures. See docs/key-derivation.md.
  CK_RSA_PKCS_OAEP_PARAMS oaep{CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
  SIMKMS_ASSIGN_OR_RETURN(out.wrapped_k1, session.WrapKey({CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep}, recipient.get(),
                                                          k1_copy.get(), "K1 under manufacturer key"));
  // KCV from the same transient copy: the wrapped value and the KCV match by construction.
  auto kcv = [&]() -> StatusOr<Bytes> {
    if (legacy) {
      const uint8_t zero[8] = {};
      SIMKMS_ASSIGN_OR_RETURN(Bytes e0, session.Encrypt({CKM_DES_ECB, nullptr, 0}, k1_copy.get(), zero, "K1 KCV"));
      return Bytes(e0.begin(), e0.begin() + 3);
    }
    const uint8_t zero[16] = {};
    SIMKMS_ASSIGN_OR_RETURN(Bytes m, session.Sign({CKM_AES_CMAC, nullptr, 0}, k1_copy.get(), zero, "K1 KCV"));
    return Bytes(m.begin(), m.begin() + 3);
  }();
  if (!kcv.ok()) return kcv.status();
  out.kcv = *kcv;
  return out;
}

StatusOr<SecretBytes> UnwrapK1Export(const K1Export& file, const std::string& private_key_pem) {
  SIMKMS_ASSIGN_OR_RETURN(Pkey priv, ParsePem(private_key_pem, /*is_private=*/true));
  SIMKMS_ASSIGN_OR_RETURN(Bytes spki, SpkiSha256(priv.get()));
  if (!ConstantTimeEquals(spki, file.recipient_spki_sha256)) {
    return InvalidArgumentError("K1 export for VER " + std::to_string(file.ver) +
                                " was made for a different manufacturer key");
  }
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new(priv.get(), nullptr));
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha1()) != 1) {
    return InternalError("cannot set up RSA-OAEP decryption");
  }
  std::size_t len = 0;
  if (EVP_PKEY_decrypt(ctx.get(), nullptr, &len, file.wrapped_k1.data(), file.wrapped_k1.size()) != 1) {
    return InvalidArgumentError("wrapped K1 does not decrypt");
  }
  SecretBytes k1(len);
  if (EVP_PKEY_decrypt(ctx.get(), k1.mutable_data(), &len, file.wrapped_k1.data(), file.wrapped_k1.size()) != 1) {
    return InvalidArgumentError("wrapped K1 does not decrypt under this private key");
  }
  k1.resize(len);
  const std::size_t expected = file.profile == Profile::kLegacy ? 8 : 16;
  if (k1.size() != expected) {
    return InvalidArgumentError("unwrapped K1 has " + std::to_string(k1.size()) + " bytes, expected " +
                                std::to_string(expected));
  }
  SIMKMS_ASSIGN_OR_RETURN(Bytes kcv, file.profile == Profile::kLegacy ? SoftwareDesKcv(k1) : SoftwareAesKcv(k1));
  if (!ConstantTimeEquals(kcv, file.kcv)) {
    return UnauthenticatedError("unwrapped K1 has KCV " + ToHex(kcv) + " but the export file says " +
                                ToHex(file.kcv) + ": refusing it");
  }
  return k1;
}

}  // namespace simkms::kms
