// A fresh RSA key pair in PEM, standing for a party outside the appliance (a
// manufacturer receiving K1, the auditor receiving the audit epoch seed).
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <string>

namespace simkms::testing {

struct RsaPair {
  std::string public_pem;
  std::string private_pem;
};

inline RsaPair MakeRsa(unsigned bits) {
  EVP_PKEY* key = EVP_RSA_gen(bits);
  BIO* pub = BIO_new(BIO_s_mem());
  BIO* priv = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(pub, key);
  PEM_write_bio_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr, nullptr);
  auto read = [](BIO* b) {
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    return std::string(data, static_cast<std::size_t>(n));
  };
  RsaPair out{read(pub), read(priv)};
  BIO_free(pub);
  BIO_free(priv);
  EVP_PKEY_free(key);
  return out;
}

}  // namespace simkms::testing
