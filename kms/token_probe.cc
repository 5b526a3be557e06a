#include "kms/token_probe.h"

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>
#include <openssl/rsa.h>

#include "kms/aes_kwp.h"
#include "kms/kcv.h"
#include "kms/ki2_vault.h"
#include "kms/rsa_recipient_internal.h"
#include "kms/secret_field.h"
#include "kms/token_policy.h"
#include "pkcs11/error.h"
#include "pkcs11/secret_attribute.h"
#include "softcrypto/dh_group.h"
#include "softcrypto/software_keys.h"

namespace simkms::kms {
namespace {

// DER of the P-256 OID 1.2.840.10045.3.1.7, as CKA_EC_PARAMS (as the SC role's).
constexpr uint8_t kP256Oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

// A mechanism a check needs, with the functions it needs it for.
struct Need {
  CK_MECHANISM_TYPE type;
  const char* name;
  CK_FLAGS flags;
};
#define SIMKMS_NEED(m, flags) Need{m, #m, flags}

using CheckFn = Status (*)(p11::Session&);

struct CheckSpec {
  const char* id;
  const char* what;
  const char* used_for;
  bool required;
  std::vector<Need> needs;
  CheckFn run;
};

// Published vectors are constants of this file; a typo is a bug, not a token's fault.
Bytes Hex(std::string_view hex) {
  auto b = FromHex(hex);
  return b.ok() ? std::move(b).value() : Bytes{};
}

Status Expect(bool condition, std::string message) {
  return condition ? OkStatus() : FailedPreconditionError(std::move(message));
}

// For public values only (test vector outputs, wrapped blobs, KCVs).
Status ExpectEqual(ByteView got, ByteView want, std::string_view what) {
  if (got.size() == want.size() && std::equal(got.begin(), got.end(), want.begin())) return OkStatus();
  return FailedPreconditionError(std::string(what) + " is " + ToHex(got) + ", expected " + ToHex(want));
}

// A throwaway session key of a known value (a published vector's key), as the
// appliance imports the custodians' backup KEK: private, sensitive, every usage
// attribute named.
StatusOr<p11::ScopedObject> ImportKey(p11::Session& s, CK_KEY_TYPE type, ByteView value, uint32_t usage,
                                      bool extractable = false) {
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, type)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, extractable)
      .Secret(CKA_VALUE, SecretBytes::Copy(value));
  SetUsage(a, usage);
  return s.CreateObject(a, "probe key");
}

// A session secret key template as the appliance's derivations use: private,
// sensitive, unextractable unless said otherwise; value_len 0: none.
p11::Attributes SessionKeyTemplate(CK_KEY_TYPE type, CK_ULONG value_len, uint32_t usage, bool sensitive = true,
                                   bool extractable = false) {
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, type);
  if (value_len != 0) a.Ulong(CKA_VALUE_LEN, value_len);
  a.Bool(CKA_TOKEN, false).Bool(CKA_PRIVATE, true).Bool(CKA_SENSITIVE, sensitive).Bool(CKA_EXTRACTABLE, extractable);
  SetUsage(a, usage);
  return a;
}

// E_key(data) in ECB into a wiping buffer: what encrypt-then-import would import.
StatusOr<SecretBytes> EcbValue(p11::Session& s, CK_MECHANISM_TYPE ecb, CK_OBJECT_HANDLE key, ByteView data) {
  CK_MECHANISM m{ecb, nullptr, 0};
  SIMKMS_RETURN_IF_ERROR(p11::CkStatus(s.functions()->C_EncryptInit(s.handle(), &m, key), "C_EncryptInit(probe)"));
  SecretBytes out(data.size());
  CK_ULONG len = out.size();
  SIMKMS_RETURN_IF_ERROR(p11::CkStatus(
      s.functions()->C_Encrypt(s.handle(), const_cast<CK_BYTE_PTR>(data.data()), data.size(), out.mutable_data(), &len),
      "C_Encrypt(probe)"));
  out.resize(len);
  return out;
}

StatusOr<p11::ScopedObject> EcbDerive(p11::Session& s, CK_MECHANISM_TYPE mechanism, CK_OBJECT_HANDLE base,
                                      ByteView data, p11::Attributes& a, std::string_view what) {
  Bytes copy(data.begin(), data.end());
  CK_KEY_DERIVATION_STRING_DATA params{copy.data(), static_cast<CK_ULONG>(copy.size())};
  return s.DeriveKey({mechanism, &params, sizeof params}, base, a, what);
}

// The key is what the appliance makes its keys: sensitive, unextractable, its value
// unreadable.
Status ExpectProtected(p11::Session& s, CK_OBJECT_HANDLE key, std::string_view what) {
  SIMKMS_ASSIGN_OR_RETURN(bool sensitive, s.GetBoolAttribute(key, CKA_SENSITIVE, what));
  SIMKMS_ASSIGN_OR_RETURN(bool extractable, s.GetBoolAttribute(key, CKA_EXTRACTABLE, what));
  SIMKMS_RETURN_IF_ERROR(Expect(sensitive && !extractable, std::string(what) + " is not sensitive and unextractable"));
  auto value = p11::GetSecretAttribute(s, key, CKA_VALUE, what);
  return Expect(!value.ok(), std::string(what) + ": CKA_VALUE of a sensitive key was readable");
}

// CKA_MODIFIABLE reads false and a later C_SetAttributeValue cannot switch a
// function on (issue 10: a PIN holder switched CKA_DECRYPT on and read Ki_1 values).
Status ExpectUnmodifiable(p11::Session& s, CK_OBJECT_HANDLE key, std::string_view what) {
  SIMKMS_ASSIGN_OR_RETURN(bool modifiable, s.GetBoolAttribute(key, CKA_MODIFIABLE, what));
  SIMKMS_RETURN_IF_ERROR(Expect(!modifiable, std::string(what) + ": CKA_MODIFIABLE reads true"));
  p11::Attributes widen;
  widen.Bool(CKA_DECRYPT, true);
  return Expect(!s.SetAttributes(key, widen, what).ok(),
                std::string(what) + ": C_SetAttributeValue(CKA_DECRYPT=true) succeeded on an unmodifiable key");
}

// Same KCV (AES: CMAC, generic secret: HMAC, DES: ECB; kms/kcv.h): the same key.
Status ExpectSameKey(p11::Session& s, CK_OBJECT_HANDLE a, CK_OBJECT_HANDLE b, std::string_view what) {
  SIMKMS_ASSIGN_OR_RETURN(Bytes ka, TokenKcv(s, a, what));
  SIMKMS_ASSIGN_OR_RETURN(Bytes kb, TokenKcv(s, b, what));
  return Expect(ka == kb, std::string(what) + ": KCV " + ToHex(ka) + " differs from " + ToHex(kb));
}

// ---------------------------------------------------------------- the checks

Status CheckRandom(p11::Session& s) {
  Bytes a(32), b(32);
  SIMKMS_RETURN_IF_ERROR(s.GenerateRandom(a.data(), a.size()));
  SIMKMS_RETURN_IF_ERROR(s.GenerateRandom(b.data(), b.size()));
  return Expect(a != b && a != Bytes(32, 0), "two C_GenerateRandom calls gave the same or zero bytes");
}

Status CheckAesKeyGen(p11::Session& s) {
  for (CK_ULONG len : {CK_ULONG{16}, CK_ULONG{32}}) {
    const std::string what = "generated AES-" + std::to_string(len * 8);
    p11::Attributes a = SessionKeyTemplate(CKK_AES, len, kSign);
    SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject key, s.GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, a, what));
    SIMKMS_RETURN_IF_ERROR(ExpectProtected(s, key.get(), what));
    SIMKMS_ASSIGN_OR_RETURN(Bytes value_len, s.GetAttribute(key.get(), CKA_VALUE_LEN, what));
    CK_ULONG got = 0;
    if (value_len.size() == sizeof got) std::memcpy(&got, value_len.data(), sizeof got);
    SIMKMS_RETURN_IF_ERROR(Expect(got == len, what + ": CKA_VALUE_LEN is " + std::to_string(got)));
  }
  return OkStatus();
}

// Every persistent key is made with CKA_MODIFIABLE=false, last in its template
// (kms/token_policy.h): by C_GenerateKey, C_DeriveKey, C_UnwrapKey (no
// CKA_VALUE_LEN) and C_CopyObject. Here on session objects.
Status CheckUnmodifiable(p11::Session& s) {
  p11::Attributes g = SessionKeyTemplate(CKK_AES, 32, kDerive);
  g.Bool(CKA_MODIFIABLE, false);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject generated, s.GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, g, "generated"));
  SIMKMS_RETURN_IF_ERROR(ExpectUnmodifiable(s, generated.get(), "generated key"));

  p11::Attributes d = SessionKeyTemplate(CKK_AES, 16, kDerive);
  d.Bool(CKA_MODIFIABLE, false);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject derived,
                          EcbDerive(s, CKM_AES_ECB_ENCRYPT_DATA, generated.get(), Bytes(16, 0x5a), d, "derived"));
  SIMKMS_RETURN_IF_ERROR(ExpectUnmodifiable(s, derived.get(), "derived key"));

  p11::Attributes k = SessionKeyTemplate(CKK_AES, 32, kWrap | kUnwrap);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject kek, s.GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, k, "KEK"));
  p11::Attributes x = SessionKeyTemplate(CKK_AES, 32, kNoUsage, true, /*extractable=*/true);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject exported, s.GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, x, "to wrap"));
  SIMKMS_ASSIGN_OR_RETURN(Bytes blob, s.WrapKey({CKM_AES_KEY_WRAP_PAD, nullptr, 0}, kek.get(), exported.get(), "wrap"));
  p11::Attributes u = SessionKeyTemplate(CKK_AES, 0, kDerive);
  u.Bool(CKA_MODIFIABLE, false);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject unwrapped,
                          s.UnwrapKey({CKM_AES_KEY_WRAP_PAD, nullptr, 0}, kek.get(), blob, u, "unwrapped"));
  SIMKMS_RETURN_IF_ERROR(ExpectUnmodifiable(s, unwrapped.get(), "unwrapped key"));

  // A session twin copied unmodifiable (CopyTwinToToken does this to the token).
  p11::Attributes t = SessionKeyTemplate(CKK_AES, 16, kDerive);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject twin, s.GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, t, "twin"));
  CK_BBOOL no = CK_FALSE;
  CK_ATTRIBUTE copy_template[] = {{CKA_MODIFIABLE, &no, sizeof no}};
  CK_OBJECT_HANDLE copy_handle = CK_INVALID_HANDLE;
  SIMKMS_RETURN_IF_ERROR(p11::CkStatus(
      s.functions()->C_CopyObject(s.handle(), twin.get(), copy_template, 1, &copy_handle), "C_CopyObject(twin)"));
  p11::ScopedObject copied(s.functions(), s.handle(), copy_handle);
  return ExpectUnmodifiable(s, copied.get(), "copied key");
}

// TS 35.207 test set 1: E_K(OP) = OP xor OPc, the first AES of every Milenage
// computation; multi-part, as kms/token_block_cipher.cc runs Milenage.
Status CheckAesEcb(p11::Session& s) {
  const Bytes op = Hex("cdc202d5123e20f62b6d676ac72cb318");
  const Bytes want = Hex("00a1c9a48774bfb863c8fe24f08c98b7");
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject k, ImportKey(s, CKK_AES, Hex("465b5ce8b199b49faa5f0a2ee238a6bc"), kEncrypt));
  {
    SIMKMS_ASSIGN_OR_RETURN(p11::EncryptOperation multi,
                            s.BeginEncrypt({CKM_AES_ECB, nullptr, 0}, k.get(), "Milenage"));
    Bytes got(16);
    SIMKMS_RETURN_IF_ERROR(multi.Update(op, got.data()));
    SIMKMS_RETURN_IF_ERROR(ExpectEqual(got, want, "multi-part AES-ECB of TS 35.207 set 1's OP"));
  }  // C_EncryptFinal: one operation at a time per session
  SIMKMS_ASSIGN_OR_RETURN(Bytes single, s.Encrypt({CKM_AES_ECB, nullptr, 0}, k.get(), op, "AES-ECB"));
  return ExpectEqual(single, want, "single-part AES-ECB of TS 35.207 set 1's OP");
}

// RFC 4493 §4 example 2.
Status CheckAesCmac(p11::Session& s) {
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject k, ImportKey(s, CKK_AES, Hex("2b7e151628aed2a6abf7158809cf4f3c"), kSign));
  SIMKMS_ASSIGN_OR_RETURN(Bytes mac, s.Sign({CKM_AES_CMAC, nullptr, 0}, k.get(),
                                            Hex("6bc1bee22e409f96e93d7e117393172a"), "CMAC"));
  return ExpectEqual(mac, Hex("070a16b46b4d4144f79bdd9dd04a287c"), "AES-CMAC of RFC 4493 example 2");
}

// RFC 4231 §4.7 test case 6 (a 131-byte key: some tokens refuse HMAC keys shorter
// than the hash, and the appliance's are 32 bytes).
Status CheckHmacSha256(p11::Session& s) {
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject k, ImportKey(s, CKK_GENERIC_SECRET, Bytes(131, 0xaa), kSign | kVerify));
  const std::string text = "Test Using Larger Than Block-Size Key - Hash Key First";
  const Bytes data(text.begin(), text.end());
  const Bytes want = Hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  SIMKMS_ASSIGN_OR_RETURN(Bytes mac, s.Sign({CKM_SHA256_HMAC, nullptr, 0}, k.get(), data, "HMAC"));
  SIMKMS_RETURN_IF_ERROR(ExpectEqual(mac, want, "HMAC-SHA256 of RFC 4231 test case 6"));
  SIMKMS_RETURN_IF_ERROR(s.Verify({CKM_SHA256_HMAC, nullptr, 0}, k.get(), data, want, "HMAC verify"));
  Bytes wrong = want;
  wrong[0] ^= 1;
  return Expect(!s.Verify({CKM_SHA256_HMAC, nullptr, 0}, k.get(), data, wrong, "HMAC verify").ok(),
                "C_Verify accepted a wrong HMAC");
}

// Every service key, K1, Ki_1, the OTA keys and the audit keys are
// CKM_AES_ECB_ENCRYPT_DATA derivations; each must be the key encrypt-then-import
// gives (the chip, the manufacturer and the auditor compute them so in software),
// and come out as protected as its template says.
Status CheckAesEcbDerive(p11::Session& s) {
  const Bytes base_value = Hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject base, ImportKey(s, CKK_AES, base_value, kDerive));
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject enc, ImportKey(s, CKK_AES, base_value, kEncrypt));
  struct Case {
    const char* what;
    CK_KEY_TYPE type;
    CK_ULONG len;
    uint32_t usage;
  };
  const Case cases[] = {{"AES-128 (K1, Ki_1, OTA keys)", CKK_AES, 16, kEncrypt | kSign | kDerive},
                        {"AES-256 (service keys, audit epoch key)", CKK_AES, 32, kSign | kDerive},
                        {"generic secret (record key, audit MAC key)", CKK_GENERIC_SECRET, 32, kSign | kVerify}};
  for (const Case& c : cases) {
    const Bytes data(c.len, 0xa5);
    p11::Attributes a = SessionKeyTemplate(c.type, c.len, c.usage);
    SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject derived,
                            EcbDerive(s, CKM_AES_ECB_ENCRYPT_DATA, base.get(), data, a, c.what));
    SIMKMS_RETURN_IF_ERROR(ExpectProtected(s, derived.get(), c.what));
    SIMKMS_ASSIGN_OR_RETURN(SecretBytes value, EcbValue(s, CKM_AES_ECB, enc.get(), data));
    SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject imported, ImportKey(s, c.type, value.reveal(), kSign));
    SIMKMS_RETURN_IF_ERROR(ExpectSameKey(s, derived.get(), imported.get(), c.what));
  }
  // The PUK block: derived readable (not sensitive, extractable) and read once.
  const Bytes data(16, 0x3c);
  p11::Attributes a = SessionKeyTemplate(CKK_GENERIC_SECRET, 16, kNoUsage, /*sensitive=*/false, /*extractable=*/true);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject puk, EcbDerive(s, CKM_AES_ECB_ENCRYPT_DATA, base.get(), data, a, "PUK"));
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes read, p11::GetSecretAttribute(s, puk.get(), CKA_VALUE, "PUK block"));
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes want, EcbValue(s, CKM_AES_ECB, enc.get(), data));
  return Expect(read.Equals(want), "the readable derived block (PUK) differs from AES-ECB of its data");
}

// The GCM paper's (McGrew, Viega) test case 2; then the appliance's own sealing of a
// PUK or an OP (kms/secret_field.h): it opens under its AAD and not under another.
Status CheckAesGcm(p11::Session& s) {
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject k, ImportKey(s, CKK_AES, Bytes(16, 0), kEncrypt | kDecrypt));
  Bytes iv(12, 0);
  CK_GCM_PARAMS p{};
  p.pIv = iv.data();
  p.ulIvLen = iv.size();
  p.ulIvBits = iv.size() * 8;
  p.ulTagBits = 128;
  SIMKMS_ASSIGN_OR_RETURN(Bytes sealed, s.Encrypt({CKM_AES_GCM, &p, sizeof p}, k.get(), Bytes(16, 0), "GCM"));
  SIMKMS_RETURN_IF_ERROR(ExpectEqual(sealed, Hex("0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf"),
                                     "AES-GCM of the GCM paper's test case 2"));
  const SecretBytes plain = SecretBytes::Copy(Hex("00112233445566778899aabbccddeeff"));
  SIMKMS_ASSIGN_OR_RETURN(Bytes field, SealField(s, k.get(), "probe/aad", plain));
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes opened, OpenField(s, k.get(), "probe/aad", field));
  SIMKMS_RETURN_IF_ERROR(Expect(opened.Equals(plain), "a sealed field opened to other bytes"));
  return Expect(!OpenField(s, k.get(), "probe/other", field).ok(), "a sealed field opened under another AAD");
}

// NIST SP 800-38A F.2.1 (the first two blocks), both ways: the OTA ciphering.
Status CheckAesCbc(p11::Session& s) {
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject k,
                          ImportKey(s, CKK_AES, Hex("2b7e151628aed2a6abf7158809cf4f3c"), kEncrypt | kDecrypt));
  Bytes iv = Hex("000102030405060708090a0b0c0d0e0f");
  const Bytes plain = Hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
  const Bytes want = Hex("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2");
  SIMKMS_ASSIGN_OR_RETURN(Bytes c, s.Encrypt({CKM_AES_CBC, iv.data(), iv.size()}, k.get(), plain, "CBC"));
  SIMKMS_RETURN_IF_ERROR(ExpectEqual(c, want, "AES-CBC of SP 800-38A F.2.1"));
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes back, s.Decrypt({CKM_AES_CBC, iv.data(), iv.size()}, k.get(), want, "CBC"));
  return ExpectEqual(back.reveal(), plain, "AES-CBC decryption of SP 800-38A F.2.1");
}

// RFC 5649 of a whole-block key as the appliance wraps them (Ki_2: 16 bytes; MK:
// 32), under an AES-256 KEK: the value OpenSSL's and pyca/cryptography's RFC 5649
// both give (RFC 5649 itself has examples of 20- and 7-byte keys only).
Status CheckKeyWrapPad(p11::Session& s, CK_MECHANISM_TYPE mechanism) {
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject kek,
                          ImportKey(s, CKK_AES, Hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
                                    kWrap));
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject key, ImportKey(s, CKK_AES, Hex("00112233445566778899aabbccddeeff"),
                                                           kNoUsage, /*extractable=*/true));
  SIMKMS_ASSIGN_OR_RETURN(Bytes wrapped, s.WrapKey({mechanism, nullptr, 0}, kek.get(), key.get(), "RFC 5649"));
  return ExpectEqual(wrapped, Hex("afc860015ffe2d75bedf43c444fe58f4ad9d89c4ec71e23b"),
                     "the RFC 5649 wrap of a 16-byte key");
}

// RFC 5649 §6's first example: a 20-byte key (not a multiple of 8) under AES-192.
Status CheckKeyWrapPadOddLength(p11::Session& s) {
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject kek,
                          ImportKey(s, CKK_AES, Hex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8"), kWrap));
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject key, ImportKey(s, CKK_GENERIC_SECRET,
                                                           Hex("c37b7e6492584340bed12207808941155068f738"), kNoUsage,
                                                           /*extractable=*/true));
  SIMKMS_ASSIGN_OR_RETURN(Bytes wrapped,
                          s.WrapKey({CKM_AES_KEY_WRAP_PAD, nullptr, 0}, kek.get(), key.get(), "RFC 5649"));
  return ExpectEqual(wrapped, Hex("138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"),
                     "the wrap of RFC 5649's first example");
}

// The storage KEK as kms/token_policy.h makes it (with CKA_UNWRAP_TEMPLATE), as a
// session key that can also sign (its KCV).
StatusOr<p11::ScopedObject> GenerateStorageKek(p11::Session& s) {
  p11::Attributes a = SessionKeyTemplate(CKK_AES, 32, kWrap | kUnwrap | kSign);
  const std::span<const CK_ATTRIBUTE> inner = UnwrappedKeyTemplate();
  a.Blob(CKA_UNWRAP_TEMPLATE, ByteView(reinterpret_cast<const uint8_t*>(inner.data()), inner.size_bytes()));
  return s.GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, a, "storage KEK");
}

// RFC 5649 under the mechanism the appliance wraps with on this token
// (kms/aes_kwp.h: CKM_AES_KEY_WRAP_KWP where listed, else CKM_AES_KEY_WRAP_PAD,
// which PKCS#11 v2.40 names without a padding scheme; SoftHSM's is RFC 5649 for
// whole blocks), then a fresh Ki_2 through the appliance's own vault
// (kms/ki2_vault.h): 24-byte blob, unwrapped to the same KCV, unextractable.
Status CheckAesKwp(p11::Session& s) {
  SIMKMS_ASSIGN_OR_RETURN(CK_MECHANISM_TYPE kwp, AesKwpMechanism(s));
  SIMKMS_RETURN_IF_ERROR(CheckKeyWrapPad(s, kwp));
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject kek, GenerateStorageKek(s));
  SIMKMS_ASSIGN_OR_RETURN(Bytes kek_kcv, TokenKcv(s, kek.get(), "storage KEK"));
  p11::Attributes fresh = FreshKi2Template();
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject ki2, s.GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, fresh, "fresh Ki_2"));
  Ki2Vault vault(kek.get(), kek_kcv);
  SIMKMS_ASSIGN_OR_RETURN(WrappedKi2 wrapped, vault.Wrap(s, ki2.get()));
  SIMKMS_RETURN_IF_ERROR(Expect(wrapped.blob.size() == 24, "a wrapped Ki_2 is " +
                                                               std::to_string(wrapped.blob.size()) + " bytes, not 24"));
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject back, vault.Unwrap(s, wrapped, "probe"));  // checks the KCV
  return ExpectProtected(s, back.get(), "unwrapped Ki_2");
}

Status CheckAesKwpV3(p11::Session& s) { return CheckKeyWrapPad(s, kCkmAesKeyWrapKwp); }

// The storage KEK's CKA_UNWRAP_TEMPLATE: a Ki_2 blob cannot be unwrapped as an
// extractable key (docs/key-derivation.md, "what a PIN holder can do").
Status CheckUnwrapTemplate(p11::Session& s) {
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject kek, GenerateStorageKek(s));
  SIMKMS_ASSIGN_OR_RETURN(Bytes stored, s.GetAttribute(kek.get(), CKA_UNWRAP_TEMPLATE, "storage KEK"));
  SIMKMS_RETURN_IF_ERROR(Expect(stored.size() == UnwrappedKeyTemplate().size_bytes(),
                                "CKA_UNWRAP_TEMPLATE reads back with another length"));
  p11::Attributes fresh = FreshKi2Template();
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject ki2, s.GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, fresh, "fresh Ki_2"));
  SIMKMS_ASSIGN_OR_RETURN(CK_MECHANISM_TYPE kwp, AesKwpMechanism(s));
  SIMKMS_ASSIGN_OR_RETURN(Bytes blob, s.WrapKey({kwp, nullptr, 0}, kek.get(), ki2.get(), "Ki_2"));
  p11::Attributes widened = SessionKeyTemplate(CKK_AES, 0, kEncrypt | kSign, true, /*extractable=*/true);
  auto unwrapped = s.UnwrapKey({kwp, nullptr, 0}, kek.get(), blob, widened, "widened Ki_2");
  return Expect(!unwrapped.ok(), "an unwrap against the KEK's CKA_UNWRAP_TEMPLATE made an extractable key");
}

// The ceremony transport and K1 export (kms/ceremony_transport.cc,
// kms/rsa_recipient.cc): an RSA-2048 pair as the runtime token makes it, a public
// key object from its modulus, OAEP wrap and unwrap to the same KCV. With SHA-1
// also against OpenSSL: the manufacturer and the auditor decrypt in software.
Status CheckRsaOaep(p11::Session& s, CK_MECHANISM_TYPE hash, CK_RSA_PKCS_MGF_TYPE mgf) {
  const CK_BYTE exponent[] = {0x01, 0x00, 0x01};
  p11::Attributes pub;
  pub.Bool(CKA_TOKEN, false).Ulong(CKA_MODULUS_BITS, 2048).Blob(CKA_PUBLIC_EXPONENT, ByteView(exponent, 3));
  SetUsage(pub, kNoUsage, CKO_PUBLIC_KEY);
  p11::Attributes priv;
  priv.Bool(CKA_TOKEN, false).Bool(CKA_PRIVATE, true).Bool(CKA_SENSITIVE, true).Bool(CKA_EXTRACTABLE, false);
  SetUsage(priv, kUnwrap, CKO_PRIVATE_KEY);
  const std::span<const CK_ATTRIBUTE> inner = UnwrappedKeyTemplate();
  priv.Blob(CKA_UNWRAP_TEMPLATE, ByteView(reinterpret_cast<const uint8_t*>(inner.data()), inner.size_bytes()));
  priv.Bool(CKA_MODIFIABLE, false);
  SIMKMS_ASSIGN_OR_RETURN(p11::KeyPair pair,
                          s.GenerateKeyPair({CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0}, pub, priv, "transport pair"));
  SIMKMS_ASSIGN_OR_RETURN(Bytes n, s.GetAttribute(pair.public_key.get(), CKA_MODULUS, "modulus"));
  SIMKMS_ASSIGN_OR_RETURN(Bytes e, s.GetAttribute(pair.public_key.get(), CKA_PUBLIC_EXPONENT, "exponent"));
  p11::Attributes wrapping;
  wrapping.Ulong(CKA_CLASS, CKO_PUBLIC_KEY).Ulong(CKA_KEY_TYPE, CKK_RSA).Bool(CKA_TOKEN, false);
  wrapping.Blob(CKA_MODULUS, n).Blob(CKA_PUBLIC_EXPONENT, e);
  SetUsage(wrapping, kWrap, CKO_PUBLIC_KEY);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject wrap_key, s.CreateObject(wrapping, "recipient public key"));
  p11::Attributes x = SessionKeyTemplate(CKK_AES, 16, kSign, true, /*extractable=*/true);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject key, s.GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, x, "key to move"));
  CK_RSA_PKCS_OAEP_PARAMS oaep{hash, mgf, CKZ_DATA_SPECIFIED, nullptr, 0};
  SIMKMS_ASSIGN_OR_RETURN(Bytes wrapped,
                          s.WrapKey({CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep}, wrap_key.get(), key.get(), "OAEP wrap"));
  p11::Attributes u = SessionKeyTemplate(CKK_AES, 0, kSign);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject back, s.UnwrapKey({CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep},
                                                              pair.private_key.get(), wrapped, u, "OAEP unwrap"));
  SIMKMS_RETURN_IF_ERROR(ExpectSameKey(s, key.get(), back.get(), "key moved by RSA-OAEP"));
  if (hash != CKM_SHA_1) return OkStatus();
  // K1 export: the token wraps under the manufacturer's key, OpenSSL unwraps.
  EvpPkeyPtr manufacturer(EVP_RSA_gen(2048));
  if (!manufacturer) return InternalError("OpenSSL could not generate the probe's RSA key");
  SIMKMS_ASSIGN_OR_RETURN(Bytes exported, WrapForRecipient(s, manufacturer.get(), key.get(), "probe export"));
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes value, UnwrapAsRecipient(manufacturer.get(), exported, "probe export"));
  SIMKMS_ASSIGN_OR_RETURN(Bytes software_kcv, SoftwareAesKcv(value));
  SIMKMS_ASSIGN_OR_RETURN(Bytes token_kcv, TokenKcv(s, key.get(), "exported key"));
  return Expect(software_kcv == token_kcv, "OpenSSL's OAEP unwrap of the token's wrap gives another key");
}

Status CheckRsaOaepSha1(p11::Session& s) { return CheckRsaOaep(s, CKM_SHA_1, CKG_MGF1_SHA1); }
Status CheckRsaOaepSha256(p11::Session& s) { return CheckRsaOaep(s, CKM_SHA256, CKG_MGF1_SHA256); }

// One side of the first call's key agreement as the SC role makes it
// (sc-engine/engine/token_key_agreement.cc): an ephemeral pair, the public value.
struct Side {
  p11::KeyPair pair;
  Bytes public_value;
};

StatusOr<Side> EphemeralDh(p11::Session& s, DhGroupKind kind) {
  p11::Attributes pub;
  p11::Attributes priv;
  pub.Bool(CKA_TOKEN, false);
  SetUsage(pub, kNoUsage, CKO_PUBLIC_KEY);
  priv.Bool(CKA_TOKEN, false).Bool(CKA_PRIVATE, true).Bool(CKA_SENSITIVE, true).Bool(CKA_EXTRACTABLE, false);
  SetUsage(priv, kDerive, CKO_PRIVATE_KEY);
  const bool ec = kind == DhGroupKind::kP256;
  std::size_t size = 65;
  if (ec) {
    pub.Blob(CKA_EC_PARAMS, kP256Oid);
  } else {
    SIMKMS_ASSIGN_OR_RETURN(FfdhParams group, NamedFfdhParams(kind));
    pub.Blob(CKA_PRIME, group.p).Blob(CKA_BASE, group.g);
    size = group.p.size();
  }
  Side side;
  SIMKMS_ASSIGN_OR_RETURN(side.pair, s.GenerateKeyPair({ec ? CKM_EC_KEY_PAIR_GEN : CKM_DH_PKCS_KEY_PAIR_GEN, nullptr, 0},
                                                       pub, priv, "ephemeral pair"));
  SIMKMS_ASSIGN_OR_RETURN(Bytes value,
                          s.GetAttribute(side.pair.public_key.get(), ec ? CKA_EC_POINT : CKA_VALUE, "public value"));
  // EC: a DER OCTET STRING around 04|X|Y; DH: y, left-padded to the size of p.
  if (ec && value.size() == 67 && value[0] == 0x04 && value[1] == 0x41) value.erase(value.begin(), value.begin() + 2);
  if (value.size() > size) return FailedPreconditionError("the public value is longer than the group's");
  side.public_value.assign(size - value.size(), 0);
  side.public_value.insert(side.public_value.end(), value.begin(), value.end());
  return side;
}

// K_z as DeriveKz makes it (AES-256, derive-only), then a MAC key from it as the
// session keys are made: what the two sides' keys are compared by.
StatusOr<p11::ScopedObject> AgreedMacKey(p11::Session& s, DhGroupKind kind, const Side& own, ByteView peer) {
  p11::Attributes a = SessionKeyTemplate(CKK_AES, 32, kDerive);
  Bytes peer_copy(peer.begin(), peer.end());
  p11::ScopedObject k_z;
  if (kind == DhGroupKind::kP256) {
    CK_ECDH1_DERIVE_PARAMS params{CKD_NULL, 0, nullptr, static_cast<CK_ULONG>(peer_copy.size()), peer_copy.data()};
    SIMKMS_ASSIGN_OR_RETURN(k_z, s.DeriveKey({CKM_ECDH1_DERIVE, &params, sizeof params}, own.pair.private_key.get(), a,
                                             "K_z (ECDH)"));
  } else {
    SIMKMS_ASSIGN_OR_RETURN(k_z, s.DeriveKey({CKM_DH_PKCS_DERIVE, peer_copy.data(), peer_copy.size()},
                                             own.pair.private_key.get(), a, "K_z (DH)"));
  }
  SIMKMS_RETURN_IF_ERROR(ExpectProtected(s, k_z.get(), "K_z"));
  p11::Attributes m = SessionKeyTemplate(CKK_AES, 16, kSign);
  return EcbDerive(s, CKM_AES_ECB_ENCRYPT_DATA, k_z.get(), Bytes(16, 0x11), m, "MAC key from K_z");
}

Status CheckAgreement(p11::Session& s, DhGroupKind kind) {
  SIMKMS_ASSIGN_OR_RETURN(Side a, EphemeralDh(s, kind));
  SIMKMS_ASSIGN_OR_RETURN(Side b, EphemeralDh(s, kind));
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject ka, AgreedMacKey(s, kind, a, b.public_value));
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject kb, AgreedMacKey(s, kind, b, a.public_value));
  return ExpectSameKey(s, ka.get(), kb.get(), "the keys derived on the two sides");
}

Status CheckFfdhe2048(p11::Session& s) { return CheckAgreement(s, DhGroupKind::kFfdhe2048); }
Status CheckFfdhe3072(p11::Session& s) { return CheckAgreement(s, DhGroupKind::kFfdhe3072); }
Status CheckP256(p11::Session& s) { return CheckAgreement(s, DhGroupKind::kP256); }

// The legacy VER profile (kms/ki1.cc, kms/master_derivation.cc): single DES of
// FIPS 81's example; K1 (DES) derived from an AES base by AES_ECB_ENCRYPT_DATA;
// Ki_1 (AES-128) derived from K1 by DES_ECB_ENCRYPT_DATA; each the key
// encrypt-then-import gives.
Status CheckDesLegacy(p11::Session& s) {
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject des, ImportKey(s, CKK_DES, Hex("0123456789abcdef"), kEncrypt));
  SIMKMS_ASSIGN_OR_RETURN(Bytes c, s.Encrypt({CKM_DES_ECB, nullptr, 0}, des.get(), Hex("4e6f772069732074"), "DES"));
  SIMKMS_RETURN_IF_ERROR(ExpectEqual(c, Hex("3fa40e8a984d4815"), "DES-ECB of FIPS 81's \"Now is t\""));

  const Bytes mk_value(32, 0x42);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject mk, ImportKey(s, CKK_AES, mk_value, kDerive));
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject mk_enc, ImportKey(s, CKK_AES, mk_value, kEncrypt));
  const Bytes k1_data(16, 0x21);
  p11::Attributes k1_template = SessionKeyTemplate(CKK_DES, 0, kDerive | kEncrypt);  // a DES key takes no CKA_VALUE_LEN
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject k1,
                          EcbDerive(s, CKM_AES_ECB_ENCRYPT_DATA, mk.get(), k1_data, k1_template, "legacy K1"));
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes k1_block, EcbValue(s, CKM_AES_ECB, mk_enc.get(), k1_data));
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject k1_imported,
                          ImportKey(s, CKK_DES, k1_block.reveal().first(8), kEncrypt | kDerive));
  SIMKMS_RETURN_IF_ERROR(ExpectSameKey(s, k1.get(), k1_imported.get(), "legacy K1 (DES from AES_ECB_ENCRYPT_DATA)"));

  const Bytes ki1_data(16, 0x31);
  p11::Attributes ki1_template = SessionKeyTemplate(CKK_AES, 16, kEncrypt | kSign | kDerive);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject ki1,
                          EcbDerive(s, CKM_DES_ECB_ENCRYPT_DATA, k1.get(), ki1_data, ki1_template, "legacy Ki_1"));
  SIMKMS_RETURN_IF_ERROR(ExpectProtected(s, ki1.get(), "legacy Ki_1"));
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes ki1_value, EcbValue(s, CKM_DES_ECB, k1_imported.get(), ki1_data));
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject ki1_imported, ImportKey(s, CKK_AES, ki1_value.reveal(), kSign));
  return ExpectSameKey(s, ki1.get(), ki1_imported.get(), "legacy Ki_1 (AES from DES_ECB_ENCRYPT_DATA)");
}

// kms/kcv.cc's KCV of a double or triple DES key (no key of the appliance is one
// today): three-key 3DES of a zero block, against OpenSSL's des-ede3.
Status CheckDes3(p11::Session& s) {
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject k, ImportKey(s, CKK_DES3,
                                                         Hex("0123456789abcdef23456789abcdef01456789abcdef0123"),
                                                         kEncrypt));
  SIMKMS_ASSIGN_OR_RETURN(Bytes c, s.Encrypt({CKM_DES3_ECB, nullptr, 0}, k.get(), Bytes(8, 0), "3DES"));
  return ExpectEqual(c, Hex("4eba739c998bcb60"), "3DES-ECB of a zero block");
}

// The audit checkpoint (kms/token_audit.cc) is a private data object; here a session one.
p11::Attributes DataObjectTemplate(ByteView value) {
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_DATA)
      .Text(CKA_LABEL, "simkms-probe/data")
      .Text(CKA_APPLICATION, "simkms")
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_PRIVATE, true)
      .Blob(CKA_VALUE, value);
  return a;
}

// The checkpoint is found again by a search (kms/token_audit.cc): by class, the
// probe's label and CKA_PRIVATE, exactly the one object made.
Status ExpectFoundByLabel(p11::Session& s, CK_OBJECT_CLASS object_class, CK_OBJECT_HANDLE made,
                          std::string_view what) {
  p11::Attributes query;
  query.Ulong(CKA_CLASS, object_class).Text(CKA_LABEL, "simkms-probe/data").Bool(CKA_PRIVATE, true);
  SIMKMS_ASSIGN_OR_RETURN(auto found, s.FindAll(query));
  return Expect(found.size() == 1 && found[0] == made,
                "a search by class, label and CKA_PRIVATE for the " + std::string(what) + " found " +
                    std::to_string(found.size()) + " objects, not the one made");
}

// The audit checkpoint's key form (kms/token_audit.cc), for a token that keeps no
// private data objects: a private, sensitive, unextractable generic secret of no
// use whose CKA_ID holds the value, found by label and read back.
Status CheckCheckpointKeyForm(p11::Session& s, const Bytes& value) {
  p11::Attributes a = SessionKeyTemplate(CKK_GENERIC_SECRET, 16, kNoUsage);
  a.Text(CKA_LABEL, "simkms-probe/data").Blob(CKA_ID, value);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject key,
                          s.GenerateKey({CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0}, a, "checkpoint key form"));
  SIMKMS_RETURN_IF_ERROR(ExpectFoundByLabel(s, CKO_SECRET_KEY, key.get(), "checkpoint's key form"));
  SIMKMS_ASSIGN_OR_RETURN(Bytes read, s.GetAttribute(key.get(), CKA_ID, "checkpoint key form"));
  SIMKMS_RETURN_IF_ERROR(ExpectEqual(read, value, "the checkpoint key's CKA_ID"));
  return ExpectProtected(s, key.get(), "checkpoint key form");
}

// A private data object, or where the token refuses one as the template's fault
// (NSS's softoken), the key form the appliance then uses instead.
Status CheckDataObject(p11::Session& s) {
  const Bytes value(40, 0x77);
  p11::Attributes a = DataObjectTemplate(value);
  StatusOr<p11::ScopedObject> made = s.CreateObject(a, "data object");
  if (!made.ok() && made.status().code() == StatusCode::kInvalidArgument) return CheckCheckpointKeyForm(s, value);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject object, std::move(made));
  SIMKMS_RETURN_IF_ERROR(ExpectFoundByLabel(s, CKO_DATA, object.get(), "data object"));
  SIMKMS_ASSIGN_OR_RETURN(Bytes read, s.GetAttribute(object.get(), CKA_VALUE, "data object"));
  return ExpectEqual(read, value, "the data object's CKA_VALUE");
}

// Not relied on: each checkpoint write creates a new object and destroys the older.
Status CheckDataObjectUpdate(p11::Session& s) {
  p11::Attributes a = DataObjectTemplate(Bytes(40, 0x77));
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject object, s.CreateObject(a, "data object"));
  const Bytes changed(40, 0x78);
  p11::Attributes update;
  update.Blob(CKA_VALUE, changed);
  SIMKMS_RETURN_IF_ERROR(s.SetAttributes(object.get(), update, "data object's CKA_VALUE"));
  SIMKMS_ASSIGN_OR_RETURN(Bytes read, s.GetAttribute(object.get(), CKA_VALUE, "data object"));
  return ExpectEqual(read, changed, "the changed CKA_VALUE");
}

const std::vector<CheckSpec>& Checks() {
  static const std::vector<CheckSpec> checks = {
      {"random", "C_GenerateRandom: two draws of 32 bytes differ", "session ids, nonces, RANDs, GCM IVs, PINs",
       true, {}, CheckRandom},
      {"aes-keygen", "AES-128 and AES-256 generated private, sensitive, unextractable; CKA_VALUE unreadable",
       "MK, audit epoch seed, Ki_2 on re-key", true, {SIMKMS_NEED(CKM_AES_KEY_GEN, CKF_GENERATE)}, CheckAesKeyGen},
      {"unmodifiable", "CKA_MODIFIABLE=false (last) taken by generate, derive, unwrap and copy; no function switched on later",
       "every persistent key (kms/token_policy.h)", true,
       {SIMKMS_NEED(CKM_AES_KEY_GEN, CKF_GENERATE), SIMKMS_NEED(CKM_AES_ECB_ENCRYPT_DATA, CKF_DERIVE),
        SIMKMS_NEED(CKM_AES_KEY_WRAP_PAD, CKF_WRAP | CKF_UNWRAP)},
       CheckUnmodifiable},
      {"aes-ecb", "AES-ECB, single- and multi-part, of TS 35.207 test set 1 (E_K(OP))", "Milenage f1-f5, OPc", true,
       {SIMKMS_NEED(CKM_AES_ECB, CKF_ENCRYPT)}, CheckAesEcb},
      {"aes-cmac", "AES-CMAC of RFC 4493 example 2", "KCVs, OTA CC, K_act and K_conf MACs", true,
       {SIMKMS_NEED(CKM_AES_CMAC, CKF_SIGN)}, CheckAesCmac},
      {"hmac-sha256", "HMAC-SHA256 sign and verify of RFC 4231 test case 6", "record MACs, audit MACs", true,
       {SIMKMS_NEED(CKM_SHA256_HMAC, CKF_SIGN | CKF_VERIFY)}, CheckHmacSha256},
      {"aes-ecb-derive",
       "AES_ECB_ENCRYPT_DATA to AES-128, AES-256, generic secret: protected, equal to encrypt-then-import; a readable block",
       "service keys, K1, Ki_1, OTA keys, Ki_2, PUK, audit keys", true,
       {SIMKMS_NEED(CKM_AES_ECB_ENCRYPT_DATA, CKF_DERIVE), SIMKMS_NEED(CKM_AES_ECB, CKF_ENCRYPT)}, CheckAesEcbDerive},
      {"aes-gcm", "AES-GCM of the GCM paper's test case 2; a sealed field opens under its AAD only",
       "stored PUKs, VER OPs", true, {SIMKMS_NEED(CKM_AES_GCM, CKF_ENCRYPT | CKF_DECRYPT)}, CheckAesGcm},
      {"aes-cbc", "AES-CBC of SP 800-38A F.2.1, both ways", "OTA ciphering of the first call", true,
       {SIMKMS_NEED(CKM_AES_CBC, CKF_ENCRYPT | CKF_DECRYPT)}, CheckAesCbc},
      {"aes-kwp", "the token's RFC 5649 mechanism (KWP where listed, else KEY_WRAP_PAD) for a 16-byte key; a fresh Ki_2 wraps to 24 bytes and unwraps to its KCV",
       "Ki_2 blobs, MK backup", true,
       {SIMKMS_NEED(CKM_AES_KEY_WRAP_PAD, CKF_WRAP | CKF_UNWRAP), SIMKMS_NEED(CKM_AES_KEY_GEN, CKF_GENERATE)},
       CheckAesKwp},
      {"unwrap-template", "CKA_UNWRAP_TEMPLATE kept and enforced: no extractable unwrap under the storage KEK",
       "storage KEK, transport key", true, {SIMKMS_NEED(CKM_AES_KEY_WRAP_PAD, CKF_WRAP | CKF_UNWRAP)},
       CheckUnwrapTemplate},
      {"rsa-oaep-sha1", "RSA-2048 pair; OAEP (SHA-1, MGF1-SHA1) wrap and unwrap to the same KCV; OpenSSL unwraps it",
       "K1 export, ceremony transport, auditor seed export", true,
       {SIMKMS_NEED(CKM_RSA_PKCS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR),
        SIMKMS_NEED(CKM_RSA_PKCS_OAEP, CKF_WRAP | CKF_UNWRAP)},
       CheckRsaOaepSha1},
      {"dh-ffdhe2048", "DH over RFC 7919 ffdhe2048: both sides derive the same K_z", "first call, default VER group",
       true, {SIMKMS_NEED(CKM_DH_PKCS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR), SIMKMS_NEED(CKM_DH_PKCS_DERIVE, CKF_DERIVE)},
       CheckFfdhe2048},
      {"dh-ffdhe3072", "DH over RFC 7919 ffdhe3072: both sides derive the same K_z", "VERs with --dh-group ffdhe3072",
       false,
       {SIMKMS_NEED(CKM_DH_PKCS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR), SIMKMS_NEED(CKM_DH_PKCS_DERIVE, CKF_DERIVE)},
       CheckFfdhe3072},
      {"ecdh-p256", "ECDH over P-256 (CKD_NULL): both sides derive the same K_z", "VERs with --dh-group p256", false,
       {SIMKMS_NEED(CKM_EC_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR), SIMKMS_NEED(CKM_ECDH1_DERIVE, CKF_DERIVE)},
       CheckP256},
      {"des-legacy", "DES-ECB of FIPS 81; DES K1 from AES_ECB_ENCRYPT_DATA; Ki_1 from DES_ECB_ENCRYPT_DATA",
       "VERs with --profile legacy (the patent's DES K1)", false,
       {SIMKMS_NEED(CKM_DES_ECB, CKF_ENCRYPT), SIMKMS_NEED(CKM_DES_ECB_ENCRYPT_DATA, CKF_DERIVE),
        SIMKMS_NEED(CKM_AES_ECB_ENCRYPT_DATA, CKF_DERIVE)},
       CheckDesLegacy},
      {"des3-kcv", "3DES-ECB of a zero block", "KCV of a double/triple DES key (none made today)", false,
       {SIMKMS_NEED(CKM_DES3_ECB, CKF_ENCRYPT)}, CheckDes3},
      {"data-object", "private data object (or its key form where refused): made, found by label, its value read", "the audit checkpoint", true,
       {}, CheckDataObject},
      {"rsa-oaep-sha256", "OAEP with SHA-256 and MGF1-SHA256: wrap and unwrap to the same KCV",
       "not used: would replace OAEP-SHA1 in the export formats", false,
       {SIMKMS_NEED(CKM_RSA_PKCS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR),
        SIMKMS_NEED(CKM_RSA_PKCS_OAEP, CKF_WRAP | CKF_UNWRAP)},
       CheckRsaOaepSha256},
      {"aes-kwp-v3", "AES_KEY_WRAP_KWP (PKCS#11 3.0) is RFC 5649 for a 16-byte key",
       "not used: RFC 5649 under its v3.0 name", false, {Need{kCkmAesKeyWrapKwp, "CKM_AES_KEY_WRAP_KWP", CKF_WRAP}}, CheckAesKwpV3},
      {"aes-kwp-odd", "AES_KEY_WRAP_PAD of RFC 5649's 20-byte example",
       "not used: keys of a length not a multiple of 8", false,
       {SIMKMS_NEED(CKM_AES_KEY_WRAP_PAD, CKF_WRAP)}, CheckKeyWrapPadOddLength},
      {"data-object-update", "a data object's CKA_VALUE changed in place",
       "not used: each checkpoint write makes a new object", false, {}, CheckDataObjectUpdate},
  };
  return checks;
}

#undef SIMKMS_NEED

// Present: in C_GetMechanismList and with the functions used in C_GetMechanismInfo.
// Both: SoftHSM answers C_GetMechanismInfo for a mechanism its configuration
// disabled (slots.mechanisms), and only the list leaves it out.
StatusOr<std::vector<CK_MECHANISM_TYPE>> OfferedMechanisms(p11::Session& session) {
  CK_FUNCTION_LIST* f = session.functions();
  CK_ULONG count = 0;
  SIMKMS_RETURN_IF_ERROR(p11::CkStatus(f->C_GetMechanismList(session.slot(), nullptr, &count), "C_GetMechanismList"));
  std::vector<CK_MECHANISM_TYPE> offered(count);
  SIMKMS_RETURN_IF_ERROR(
      p11::CkStatus(f->C_GetMechanismList(session.slot(), offered.data(), &count), "C_GetMechanismList"));
  offered.resize(count);
  return offered;
}

ProbeResult RunCheck(p11::Session& session, const CheckSpec& spec, const std::vector<CK_MECHANISM_TYPE>& offered) {
  CK_FUNCTION_LIST* f = session.functions();
  ProbeResult r;
  r.id = spec.id;
  r.what = spec.what;
  r.used_for = spec.used_for;
  r.required = spec.required;
  for (const Need& need : spec.needs) {
    r.mechanisms += (r.mechanisms.empty() ? "" : " ") + std::string(need.name);
    CK_MECHANISM_INFO m{};
    const CK_RV rv = f->C_GetMechanismInfo(session.slot(), need.type, &m);
    const bool listed = std::find(offered.begin(), offered.end(), need.type) != offered.end();
    if (!listed || rv != CKR_OK || (m.flags & need.flags) != need.flags) {
      r.present = false;
      r.missing += (r.missing.empty() ? "" : ", ") + std::string(need.name);
    }
  }
  if (r.mechanisms.empty()) r.mechanisms = "-";
  // Run even when a mechanism is not advertised: the detail then says what the
  // token answers when it is used anyway.
  const Status s = spec.run(session);
  r.behaves = s.ok();
  if (!s.ok()) r.detail = s.message();
  return r;
}

std::string Trimmed(const CK_UTF8CHAR* text, std::size_t size) {
  std::string s(reinterpret_cast<const char*>(text), size);
  s.erase(s.find_last_not_of(' ') + 1);
  return s;
}

}  // namespace

std::vector<std::string> ProbedMechanisms() {
  std::vector<std::string> names;
  for (const CheckSpec& spec : Checks()) {
    for (const Need& need : spec.needs) names.push_back(need.name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

bool ProbeReport::ok() const { return FailedRequired().empty(); }

std::vector<std::string> ProbeReport::FailedRequired() const {
  std::vector<std::string> out;
  for (const ProbeResult& r : results) {
    if (!r.required || r.ok()) continue;
    out.push_back(r.id + " (" + (r.present ? "" : r.missing + " not offered: ") + r.detail + ")");
  }
  return out;
}

std::string ProbeReport::Summary() const {
  int required = 0, required_ok = 0, optional = 0, optional_ok = 0;
  for (const ProbeResult& r : results) {
    (r.required ? required : optional)++;
    if (r.ok()) (r.required ? required_ok : optional_ok)++;
  }
  return std::to_string(required_ok) + " of " + std::to_string(required) + " required checks pass, " +
         std::to_string(optional_ok) + " of " + std::to_string(optional) + " optional";
}

nlohmann::ordered_json ProbeReport::ToJson() const {
  nlohmann::ordered_json j;
  j["token"] = token_label;
  j["manufacturer"] = manufacturer;
  j["model"] = model;
  j["library"] = library;
  j["ok"] = ok();
  j["summary"] = Summary();
  j["checks"] = nlohmann::ordered_json::array();
  for (const ProbeResult& r : results) {
    j["checks"].push_back({{"id", r.id},
                           {"what", r.what},
                           {"used_for", r.used_for},
                           {"mechanisms", r.mechanisms},
                           {"required", r.required},
                           {"present", r.present},
                           {"missing", r.missing},
                           {"behaves", r.behaves},
                           {"detail", r.detail}});
  }
  return j;
}

StatusOr<ProbeReport> ProbeToken(p11::Session& session) {
  CK_FUNCTION_LIST* f = session.functions();
  ProbeReport report;
  CK_TOKEN_INFO token{};
  SIMKMS_RETURN_IF_ERROR(p11::CkStatus(f->C_GetTokenInfo(session.slot(), &token), "C_GetTokenInfo"));
  report.token_label = Trimmed(token.label, sizeof token.label);
  report.manufacturer = Trimmed(token.manufacturerID, sizeof token.manufacturerID);
  report.model = Trimmed(token.model, sizeof token.model);
  CK_INFO info{};
  if (f->C_GetInfo(&info) == CKR_OK) {
    report.library = Trimmed(info.libraryDescription, sizeof info.libraryDescription) + " " +
                     std::to_string(info.libraryVersion.major) + "." + std::to_string(info.libraryVersion.minor);
  }
  SIMKMS_ASSIGN_OR_RETURN(const std::vector<CK_MECHANISM_TYPE> offered, OfferedMechanisms(session));
  for (const CheckSpec& spec : Checks()) report.results.push_back(RunCheck(session, spec, offered));
  return report;
}

std::span<const std::string_view> StartupEnforcementChecks() {
  static constexpr std::string_view kIds[] = {"unmodifiable", "unwrap-template"};
  return kIds;
}

StatusOr<ProbeResult> ProbeOne(p11::Session& session, std::string_view id) {
  for (const CheckSpec& spec : Checks()) {
    if (spec.id != id) continue;
    SIMKMS_ASSIGN_OR_RETURN(const std::vector<CK_MECHANISM_TYPE> offered, OfferedMechanisms(session));
    return RunCheck(session, spec, offered);
  }
  return NotFoundError("no token probe check named '" + std::string(id) + "' (kmsctl token probe lists them)");
}

Status CheckProfileOnToken(p11::Session& session, Profile profile) {
  if (profile != Profile::kLegacy) return OkStatus();
  SIMKMS_ASSIGN_OR_RETURN(ProbeResult des, ProbeOne(session, "des-legacy"));
  if (des.ok()) return OkStatus();
  return FailedPreconditionError(
      "the legacy profile is not available on this token: it derives Ki_1 from a DES K1, and the token fails the "
      "probe check des-legacy (" + des.detail + "); use --profile modern (docs/hsm-compatibility.md)");
}

}  // namespace simkms::kms
