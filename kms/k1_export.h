// Exporting a VER's K1 to a chip manufacturer: K1 wrapped with RSA-OAEP under
// the manufacturer's public key, inside the token, with its KCV so the
// manufacturer can check what it unwrapped. The persistent K1 is unextractable:
// the export wraps a transient, extractable session copy derived from MK, which
// is destroyed right after.
//
// File format (JSON, docs/key-derivation.md "K1 export file"):
//   {"format":"simkms-k1-export/2","ver":3,"profile":"modern","key_type":"AES-128",
//    "manufacturer":"acme","kcv":"1a2b3c","wrapping":"RSA-OAEP-SHA1-MGF1SHA1",
//    "recipient_spki_sha256":"<hex>","wrapped_k1":"<hex>","dh_group":"ffdhe2048",
//    "amf":"8000","wrapped_op":"<hex>","op_check":"<hex>","ranges":[{"id":"r-0001",
//    "iccid_first":"89...","imsi_first":"001...","count":1000,"mnc_digits":2}]}
#pragma once

#include <cstdint>
#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "pkcs11/session.h"
#include "softcrypto/derivation_data.h"

namespace simkms::kms {

// What a manufacturer needs besides K1 to pre-personalize the chips of a VER
// (the product brief: "per VER, K1 wrapped under its transport key, its ICCID/IMSI
// ranges, VER, DH group"), and the Milenage OP and AMF the chips compute with.
struct K1ExportContext {
  std::string dh_group = "ffdhe2048";  // ffdhe2048 | ffdhe3072 | p256 | custom
  Bytes dh_p, dh_g;                    // custom only
  Bytes amf{0x80, 0x00};
  SecretBytes op;                      // 16 bytes; wrapped like K1
  struct Range {
    std::string id;
    std::string iccid_first;  // 19 or 20 digits with the Luhn digit
    std::string imsi_first;   // 15 digits
    uint64_t count = 0;
    int mnc_digits = 2;       // the IMSIs' MNC length (2 or 3): the card's EF_AD says it
    bool operator==(const Range&) const = default;
  };
  std::vector<Range> ranges;  // this manufacturer's ranges for this VER
};

struct K1Export {
  uint32_t ver = 0;
  Profile profile = Profile::kModern;
  std::string manufacturer;
  Bytes kcv;
  std::string wrapping;
  Bytes recipient_spki_sha256;
  Bytes wrapped_k1;
  std::string dh_group;
  Bytes dh_p, dh_g;
  Bytes amf;
  Bytes wrapped_op;
  Bytes op_check;  // first 3 bytes of SHA-256(OP)
  std::vector<K1ExportContext::Range> ranges;

  std::string ToJson() const;
  static StatusOr<K1Export> FromJson(const std::string& json);
};

// Version 2: each range carries its MNC length. A version 1 file (without it) is
// refused: reading its ranges with a guessed length would write a wrong EF_AD.
inline constexpr char kK1ExportFormat[] = "simkms-k1-export/2";
inline constexpr char kK1Wrapping[] = "RSA-OAEP-SHA1-MGF1SHA1";  // = kRsaOaepWrapping (kms/rsa_recipient_internal.h)

// public_key_pem: an RSA public key (SubjectPublicKeyInfo PEM) of at least 2048 bits.
StatusOr<K1Export> ExportK1(p11::Session& session, CK_OBJECT_HANDLE mk, uint32_t ver, Profile profile,
                            const std::string& manufacturer, const std::string& public_key_pem,
                            const K1ExportContext& context = {});

// The manufacturer's side, in software: unwraps with its private key (PEM) and
// checks the KCV. Used by the manufacturer's tool and by tests as an independent check.
StatusOr<SecretBytes> UnwrapK1Export(const K1Export& file, const std::string& private_key_pem);
// The OP from the same file, checked against its check value.
StatusOr<SecretBytes> UnwrapOpFromExport(const K1Export& file, const std::string& private_key_pem);

}  // namespace simkms::kms
