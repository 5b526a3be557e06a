#include "sc-engine/engine/token_key_agreement.h"

#include <cstring>

#include "kms/token_policy.h"
#include "pkcs11/secret_attribute.h"

namespace simkms::sc {
namespace {

// DER of the P-256 OID 1.2.840.10045.3.1.7, as CKA_EC_PARAMS.
constexpr uint8_t kP256Oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

p11::Attributes SessionSecretKey(CK_KEY_TYPE type, CK_ULONG length) {
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, type)
      .Ulong(CKA_VALUE_LEN, length)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_PRIVATE, true);
  // Every usage attribute named (off); callers switch on the one or two a key needs.
  kms::SetUsage(a, kms::kNoUsage);
  return a;
}

StatusOr<p11::ScopedObject> EcbDerive(p11::Session& session, CK_OBJECT_HANDLE base, const protocol::KeyBlock& block,
                                      p11::Attributes& a, std::string_view what) {
  protocol::KeyBlock data = block;
  CK_KEY_DERIVATION_STRING_DATA params{data.data(), static_cast<CK_ULONG>(data.size())};
  return session.DeriveKey({CKM_AES_ECB_ENCRYPT_DATA, &params, sizeof params}, base, a, what);
}

StatusOr<p11::ScopedObject> MacKey(p11::Session& session, CK_OBJECT_HANDLE base, const protocol::KeyBlock& block,
                                   std::string_view what) {
  p11::Attributes a = SessionSecretKey(CKK_AES, 16);
  a.Bool(CKA_SENSITIVE, true).Bool(CKA_EXTRACTABLE, false).Bool(CKA_SIGN, true).Bool(CKA_VERIFY, true);
  return EcbDerive(session, base, block, a, what);
}

}  // namespace

StatusOr<TokenEphemeral> GenerateEphemeral(p11::Session& session, const protocol::DhGroup& group) {
  p11::Attributes pub;
  p11::Attributes priv;
  pub.Bool(CKA_TOKEN, false);
  kms::SetUsage(pub, kms::kNoUsage, CKO_PUBLIC_KEY);
  priv.Bool(CKA_TOKEN, false).Bool(CKA_PRIVATE, true).Bool(CKA_SENSITIVE, true).Bool(CKA_EXTRACTABLE, false);
  kms::SetUsage(priv, kms::kDerive, CKO_PRIVATE_KEY);
  const bool ec = group.kind == kms::DhGroupKind::kP256;
  CK_MECHANISM mechanism{ec ? CKM_EC_KEY_PAIR_GEN : CKM_DH_PKCS_KEY_PAIR_GEN, nullptr, 0};
  if (ec) {
    pub.Blob(CKA_EC_PARAMS, kP256Oid);
  } else {
    pub.Blob(CKA_PRIME, group.ffdh.p).Blob(CKA_BASE, group.ffdh.g);
  }
  SIMKMS_ASSIGN_OR_RETURN(p11::KeyPair pair, session.GenerateKeyPair(mechanism, pub, priv, "ephemeral DH"));
  const CK_OBJECT_HANDLE hpub = pair.public_key.get();
  TokenEphemeral out{std::move(pair.private_key), std::move(pair.public_key), {}};
  if (ec) {
    SIMKMS_ASSIGN_OR_RETURN(Bytes point, session.GetAttribute(hpub, CKA_EC_POINT, "EC public point"));
    // DER OCTET STRING around 04|X|Y (65 bytes): 04 41 ...
    if (point.size() == 67 && point[0] == 0x04 && point[1] == 0x41) point.erase(point.begin(), point.begin() + 2);
    if (point.size() != 65 || point[0] != 0x04) return InternalError("unexpected EC point encoding from the token");
    out.public_value = std::move(point);
  } else {
    SIMKMS_ASSIGN_OR_RETURN(Bytes y, session.GetAttribute(hpub, CKA_VALUE, "DH public value"));
    if (y.size() > group.public_size()) return InternalError("DH public value longer than p");
    out.public_value.assign(group.public_size() - y.size(), 0);
    out.public_value.insert(out.public_value.end(), y.begin(), y.end());
  }
  return out;
}

StatusOr<p11::ScopedObject> DeriveKz(p11::Session& session, const TokenEphemeral& own, const protocol::DhGroup& group,
                                     ByteView peer) {
  SIMKMS_RETURN_IF_ERROR(group.ValidatePeer(peer));
  p11::Attributes a = SessionSecretKey(CKK_AES, 32);
  a.Bool(CKA_SENSITIVE, true).Bool(CKA_EXTRACTABLE, false).Bool(CKA_DERIVE, true);
  Bytes peer_copy(peer.begin(), peer.end());
  if (group.kind == kms::DhGroupKind::kP256) {
    CK_ECDH1_DERIVE_PARAMS params{CKD_NULL, 0, nullptr, static_cast<CK_ULONG>(peer_copy.size()), peer_copy.data()};
    return session.DeriveKey({CKM_ECDH1_DERIVE, &params, sizeof params}, own.private_key.get(), a, "K_z (ECDH)");
  }
  return session.DeriveKey({CKM_DH_PKCS_DERIVE, peer_copy.data(), static_cast<CK_ULONG>(peer_copy.size())},
                           own.private_key.get(), a, "K_z (DH)");
}

StatusOr<TokenSessionKeys> DeriveSessionKeys(p11::Session& session, CK_OBJECT_HANDLE k_z,
                                             const protocol::TranscriptHash& t, bool activation_key) {
  using protocol::SessionKeyBlock;
  using protocol::SessionKeyLabel;
  TokenSessionKeys keys;
  p11::Attributes ki2 = SessionSecretKey(CKK_AES, 16);
  ki2.Bool(CKA_SENSITIVE, true).Bool(CKA_EXTRACTABLE, true).Bool(CKA_ENCRYPT, true).Bool(CKA_SIGN, true)
      .Bool(CKA_DERIVE, true);
  SIMKMS_ASSIGN_OR_RETURN(keys.ki2, EcbDerive(session, k_z, SessionKeyBlock(t, SessionKeyLabel::kKi2), ki2, "Ki_2"));
  // The PUK is a number the operator gives the customer, not a key: it is read
  // once, turned into digits and sealed by the caller.
  p11::Attributes puk = SessionSecretKey(CKK_GENERIC_SECRET, 16);
  puk.Bool(CKA_SENSITIVE, false).Bool(CKA_EXTRACTABLE, true);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject puk_key,
                          EcbDerive(session, k_z, SessionKeyBlock(t, SessionKeyLabel::kPuk), puk, "PUK block"));
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes puk_block, p11::GetSecretAttribute(session, puk_key.get(), CKA_VALUE, "PUK block"));
  keys.puk = protocol::PukDigits(puk_block.reveal());
  if (!activation_key) return keys;
  SIMKMS_ASSIGN_OR_RETURN(keys.k_activate,
                          MacKey(session, k_z, SessionKeyBlock(t, SessionKeyLabel::kActivation), "K_act"));
  return keys;
}

StatusOr<Bytes> TokenOtaCipher::Cmac(ByteView data) {
  return session_.Sign({CKM_AES_CMAC, nullptr, 0}, mac_, data, "OTA CC");
}

StatusOr<Bytes> TokenOtaCipher::EncryptCbc(ByteView data) {
  uint8_t iv[16] = {};
  return session_.Encrypt({CKM_AES_CBC, iv, sizeof iv}, enc_, data, "OTA ciphering");
}

StatusOr<Bytes> TokenOtaCipher::DecryptCbc(ByteView data) {
  uint8_t iv[16] = {};
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes plain, session_.Decrypt({CKM_AES_CBC, iv, sizeof iv}, enc_, data,
                                                              "OTA deciphering"));
  return Bytes(plain.reveal().begin(), plain.reveal().end());
}

StatusOr<TokenOtaKeys> DeriveOtaKeys(p11::Session& session, CK_OBJECT_HANDLE base_key) {
  using protocol::OtaKeyBlock;
  using protocol::OtaKeyLabel;
  auto cipher_key = [&](OtaKeyLabel label) {
    p11::Attributes a = SessionSecretKey(CKK_AES, 16);
    a.Bool(CKA_SENSITIVE, true).Bool(CKA_EXTRACTABLE, false).Bool(CKA_ENCRYPT, true).Bool(CKA_DECRYPT, true);
    return EcbDerive(session, base_key, OtaKeyBlock(label), a, "OTA K_enc");
  };
  TokenOtaKeys keys;
  SIMKMS_ASSIGN_OR_RETURN(keys.enc_up, cipher_key(OtaKeyLabel::kEncUp));
  SIMKMS_ASSIGN_OR_RETURN(keys.mac_up, MacKey(session, base_key, OtaKeyBlock(OtaKeyLabel::kMacUp), "OTA K_mac"));
  SIMKMS_ASSIGN_OR_RETURN(keys.enc_down, cipher_key(OtaKeyLabel::kEncDown));
  SIMKMS_ASSIGN_OR_RETURN(keys.mac_down, MacKey(session, base_key, OtaKeyBlock(OtaKeyLabel::kMacDown), "OTA K_mac"));
  return keys;
}

StatusOr<TokenOtaCiphers> DeriveOtaCiphers(p11::Session& session, CK_OBJECT_HANDLE base_key) {
  SIMKMS_ASSIGN_OR_RETURN(TokenOtaKeys keys, DeriveOtaKeys(session, base_key));
  TokenOtaCipher up = keys.Up(session);
  TokenOtaCipher down = keys.Down(session);
  return TokenOtaCiphers{std::move(keys), up, down};
}

StatusOr<p11::ScopedObject> DeriveConfirmKey(p11::Session& session, CK_OBJECT_HANDLE ki2) {
  return MacKey(session, ki2, protocol::OtaKeyBlock(protocol::OtaKeyLabel::kConfirm), "K_conf");
}

StatusOr<protocol::ShortMac> ShortCmac(p11::Session& session, CK_OBJECT_HANDLE key, ByteView data) {
  SIMKMS_ASSIGN_OR_RETURN(Bytes mac, session.Sign({CKM_AES_CMAC, nullptr, 0}, key, data, "short CMAC"));
  protocol::ShortMac out{};
  std::copy(mac.begin(), mac.begin() + 8, out.begin());
  return out;
}

}  // namespace simkms::sc
