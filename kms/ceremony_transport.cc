#include "kms/ceremony_transport.h"

#include "pkcs11/error.h"

namespace simkms::kms {
namespace {

constexpr CK_ULONG kTransportRsaBits = 2048;

// SoftHSM 2.6.1 takes OAEP only with SHA-1 and MGF1-SHA-1 (kms/rsa_recipient_internal.h).
CK_RSA_PKCS_OAEP_PARAMS OaepParams() { return {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0}; }

// SoftHSM's own CKA_CHECK_VALUE of the key (not simkms' CMAC KCV, kms/kcv.h): the
// copy on the runtime token is checked against this. For AES and DES it is the
// first 3 bytes of a zero block encrypted (PKCS#11 v2.40 §4.10), computed on an
// encrypt-only copy, since SoftHSM stores a wrong one on derived AES and DES keys
// (it takes SHA-1 of the value: docs/key-derivation.md); for generic secrets the
// stored one is right. DES-ECB needs OpenSSL's legacy provider, which
// p11::Module loads by default.
// A generic secret's check value as PKCS#11 v3.0 defines it, the first 3 bytes of
// SHA-1 of its value, digested in the token (C_DigestKey): for a token that has no
// CKA_CHECK_VALUE (NSS's softoken: CKR_ATTRIBUTE_TYPE_INVALID). The same bytes
// SoftHSM stores.
StatusOr<Bytes> DigestedCheckValue(p11::Session& session, CK_OBJECT_HANDLE key) {
  CK_FUNCTION_LIST* f = session.functions();
  CK_MECHANISM sha1{CKM_SHA_1, nullptr, 0};
  SIMKMS_RETURN_IF_ERROR(p11::CkStatus(f->C_DigestInit(session.handle(), &sha1), "C_DigestInit(check value)"));
  Bytes digest(20);
  CK_ULONG len = digest.size();
  CK_RV rv = f->C_DigestKey(session.handle(), key);
  if (rv == CKR_OK) rv = f->C_DigestFinal(session.handle(), digest.data(), &len);
  if (rv != CKR_OK) {
    CK_ULONG none = 0;  // ends the digest operation, whatever failed
    f->C_DigestFinal(session.handle(), nullptr, &none);
    return p11::CkStatus(rv, "C_DigestKey(check value)");
  }
  return Bytes(digest.begin(), digest.begin() + 3);
}

// The token's CKA_CHECK_VALUE of `key`, or NotFound when the token has no such attribute.
StatusOr<Bytes> StoredCheckValue(p11::Session& session, CK_OBJECT_HANDLE key) {
  auto stored = session.GetAttribute(key, CKA_CHECK_VALUE, "check value");
  if (!stored.ok() && stored.status().message().find("CKR_ATTRIBUTE_TYPE_INVALID") != std::string::npos) {
    return NotFoundError("the token has no CKA_CHECK_VALUE");
  }
  return stored;
}

StatusOr<Bytes> SoftHsmCheckValue(p11::Session& ceremony, CK_OBJECT_HANDLE mk, const DerivedKeySpec& spec,
                                  CK_OBJECT_HANDLE extractable_copy) {
  if (spec.key_type == CKK_GENERIC_SECRET) {
    auto stored = StoredCheckValue(ceremony, extractable_copy);
    if (stored.status().code() == StatusCode::kNotFound) return DigestedCheckValue(ceremony, extractable_copy);
    return stored;
  }
  const bool des = spec.key_type == CKK_DES;
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject enc,
                          DeriveSessionCopy(ceremony, mk, spec, /*extractable=*/false, kEncrypt,
                                            "copy for the check value"));
  SIMKMS_ASSIGN_OR_RETURN(Bytes block, ceremony.Encrypt({des ? CKM_DES_ECB : CKM_AES_ECB, nullptr, 0}, enc.get(),
                                                        Bytes(des ? 8 : 16, 0), "check value"));
  block.resize(3);
  return block;
}

// The same check value on the runtime side, for a token without CKA_CHECK_VALUE:
// a generic secret's digested from `twin` itself; an AES or DES key's from a second,
// encrypt-only session twin unwrapped from the same blob (the policy's twin may not
// encrypt), destroyed on return.
StatusOr<Bytes> ReceivedCheckValue(p11::Session& runtime, CK_OBJECT_HANDLE private_key, const ObjectPolicy& policy,
                                   const Bytes& wrapped, CK_OBJECT_HANDLE twin, const std::string& what) {
  if (policy.key_type == CKK_GENERIC_SECRET) return DigestedCheckValue(runtime, twin);
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, policy.key_type)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false);
  SetUsage(a, kEncrypt);
  CK_RSA_PKCS_OAEP_PARAMS oaep = OaepParams();
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject enc, runtime.UnwrapKey({CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep}, private_key,
                                                                   wrapped, a, what + " (copy for the check value)"));
  const bool des = policy.key_type == CKK_DES;
  SIMKMS_ASSIGN_OR_RETURN(Bytes block, runtime.Encrypt({des ? CKM_DES_ECB : CKM_AES_ECB, nullptr, 0}, enc.get(),
                                                       Bytes(des ? 8 : 16, 0), "check value"));
  block.resize(3);
  return block;
}

}  // namespace

StatusOr<TransportReceiver> TransportReceiver::Open(p11::Session& runtime) {
  const CK_BYTE exponent[] = {0x01, 0x00, 0x01};
  p11::Attributes pub;
  pub.Bool(CKA_TOKEN, false)
      .Ulong(CKA_MODULUS_BITS, kTransportRsaBits)
      .Blob(CKA_PUBLIC_EXPONENT, ByteView(exponent, sizeof exponent));
  SetUsage(pub, kNoUsage, CKO_PUBLIC_KEY);  // only its modulus leaves; the wrap is on the ceremony side
  p11::Attributes priv;
  priv.Bool(CKA_TOKEN, false).Bool(CKA_PRIVATE, true).Bool(CKA_SENSITIVE, true).Bool(CKA_EXTRACTABLE, false);
  SetUsage(priv, kUnwrap, CKO_PRIVATE_KEY);
  const std::span<const CK_ATTRIBUTE> inner = UnwrappedKeyTemplate();
  priv.Blob(CKA_UNWRAP_TEMPLATE, ByteView(reinterpret_cast<const uint8_t*>(inner.data()), inner.size_bytes()));
  priv.Bool(CKA_MODIFIABLE, false);  // last: token_policy.h
  CK_MECHANISM mechanism{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  SIMKMS_ASSIGN_OR_RETURN(p11::KeyPair pair,
                          runtime.GenerateKeyPair(mechanism, pub, priv, "transport key pair on the runtime token"));
  const CK_OBJECT_HANDLE pub_handle = pair.public_key.get();
  TransportPublicKey exported;
  SIMKMS_ASSIGN_OR_RETURN(exported.modulus, runtime.GetAttribute(pub_handle, CKA_MODULUS, "transport key modulus"));
  SIMKMS_ASSIGN_OR_RETURN(exported.public_exponent,
                          runtime.GetAttribute(pub_handle, CKA_PUBLIC_EXPONENT, "transport key exponent"));
  return TransportReceiver(runtime, std::move(pair.public_key), std::move(pair.private_key), std::move(exported));
}

StatusOr<CK_OBJECT_HANDLE> TransportReceiver::Receive(const ObjectPolicy& policy, const std::string& label,
                                                      ByteView id, const TransportedKey& key) {
  const std::string what = label + " from the ceremony token";
  p11::Attributes a = UnwrapTwinTemplate(policy, label, id);
  CK_RSA_PKCS_OAEP_PARAMS oaep = OaepParams();
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject twin, runtime_->UnwrapKey({CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep},
                                                                      private_key_.get(), key.wrapped, a, what));
  auto stored = StoredCheckValue(*runtime_, twin.get());
  if (stored.status().code() == StatusCode::kNotFound) {
    // A token without CKA_CHECK_VALUE (NSS's softoken) would not check it at the
    // copy: check here, on the same key, before it becomes a token object.
    SIMKMS_ASSIGN_OR_RETURN(Bytes computed,
                            ReceivedCheckValue(*runtime_, private_key_.get(), policy, key.wrapped, twin.get(), what));
    if (!ConstantTimeEquals(computed, key.check_value)) {
      return InvalidArgumentError(what + ": the unwrapped key does not match the check value " +
                                  ToHex(key.check_value) + " the ceremony side sent");
    }
    return CopyTwinToToken(*runtime_, std::move(twin), {}, what);
  }
  auto copied = CopyTwinToToken(*runtime_, std::move(twin), key.check_value, what);
  if (!copied.ok() && copied.status().message().find("CKR_ATTRIBUTE_VALUE_INVALID") != std::string::npos) {
    return InvalidArgumentError(what + ": the unwrapped key does not match the check value " +
                                ToHex(key.check_value) + " the ceremony side sent");
  }
  return copied;
}

StatusOr<TransportedKey> SendDerivedKey(p11::Session& ceremony, CK_OBJECT_HANDLE mk, const DerivedKeySpec& spec,
                                        const TransportPublicKey& recipient) {
  if (spec.key_type != CKK_AES && spec.key_type != CKK_GENERIC_SECRET && spec.key_type != CKK_DES) {
    return InvalidArgumentError("no ceremony transport for key type " + std::to_string(spec.key_type));
  }
  p11::Attributes pub;
  pub.Ulong(CKA_CLASS, CKO_PUBLIC_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_RSA)
      .Bool(CKA_TOKEN, false)
      .Blob(CKA_MODULUS, recipient.modulus)
      .Blob(CKA_PUBLIC_EXPONENT, recipient.public_exponent);
  SetUsage(pub, kWrap, CKO_PUBLIC_KEY);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject wrapping_key, ceremony.CreateObject(pub, "runtime transport key"));
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject copy, DeriveSessionCopy(ceremony, mk, spec, /*extractable=*/true,
                                                                    kNoUsage, "key to transport"));
  TransportedKey out;
  SIMKMS_ASSIGN_OR_RETURN(out.check_value, SoftHsmCheckValue(ceremony, mk, spec, copy.get()));
  CK_RSA_PKCS_OAEP_PARAMS oaep = OaepParams();
  SIMKMS_ASSIGN_OR_RETURN(out.wrapped, ceremony.WrapKey({CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep}, wrapping_key.get(),
                                                        copy.get(), "key to transport"));
  return out;
}

}  // namespace simkms::kms
