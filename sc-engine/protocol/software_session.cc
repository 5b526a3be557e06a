#include "sc-engine/protocol/software_session.h"

#include <openssl/core_names.h>
#include <openssl/dh.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <cstring>

#include "base/openssl_ptr.h"

namespace simkms::protocol {
namespace {

BignumPtr ToBn(ByteView b) { return BignumPtr(BN_bin2bn(b.data(), static_cast<int>(b.size()), nullptr)); }

// An EVP_PKEY for the group, optionally with a public value (a peer's key).
StatusOr<EvpPkeyPtr> GroupKey(const DhGroup& group, ByteView public_value, bool with_public) {
  OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld) return InternalError("OSSL_PARAM_BLD_new failed");
  const bool ec = group.kind == kms::DhGroupKind::kP256;
  BignumPtr p, g, q, pub;
  if (ec) {
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    if (with_public) {
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, public_value.data(), public_value.size());
    }
  } else {
    p = ToBn(group.ffdh.p);
    g = ToBn(group.ffdh.g);
    q = ToBn(group.ffdh.q);
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_FFC_P, p.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_FFC_G, g.get());
    // OpenSSL 3.0 checks a group that is not one of its named ones against the
    // FIPS 186-4 (L, N) sizes when q is set, which refuses every safe-prime group
    // (N = L - 1). A custom group is therefore given without q: OpenSSL then
    // draws a short random exponent of DH_PRIV_LEN bits, and the peer checks are
    // ours (2 <= y <= p-2, which suffices for a safe prime).
    if (group.kind != kms::DhGroupKind::kCustom) {
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_FFC_Q, q.get());
    } else {
      // 2x the group's security level, NIST SP 800-56A 5.6.1.1.1.
      OSSL_PARAM_BLD_push_int(bld.get(), OSSL_PKEY_PARAM_DH_PRIV_LEN, group.ffdh.p.size() > 256 ? 320 : 256);
    }
    if (with_public) {
      pub = ToBn(public_value);
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.get());
    }
  }
  OsslParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, ec ? "EC" : "DH", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, with_public ? EVP_PKEY_PUBLIC_KEY : EVP_PKEY_KEY_PARAMETERS,
                        params.get()) != 1) {
    return InvalidArgumentError("cannot build a key in the VER's DH group");
  }
  return EvpPkeyPtr(raw);
}

StatusOr<SecretBytes> AesEcbBlock(const SecretBytes& key, const KeyBlock& block) {
  const EVP_CIPHER* cipher = key.size() == 32 ? EVP_aes_256_ecb() : key.size() == 16 ? EVP_aes_128_ecb() : nullptr;
  if (cipher == nullptr) return InvalidArgumentError("AES key must be 16 or 32 bytes");
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  SecretBytes out(32);
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex2(ctx.get(), cipher, key.reveal().data(), nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.mutable_data(), &len, block.data(), 16) != 1 || len != 16) {
    return InternalError("AES-ECB failed");
  }
  out.resize(16);
  return out;
}

}  // namespace

StatusOr<DhGroup> DhGroup::Named(kms::DhGroupKind kind) {
  DhGroup g;
  g.kind = kind;
  if (kind == kms::DhGroupKind::kCustom) return InvalidArgumentError("a custom group needs p and g");
  if (kms::IsFiniteField(kind)) {
    SIMKMS_ASSIGN_OR_RETURN(g.ffdh, kms::NamedFfdhParams(kind));
  }
  return g;
}

StatusOr<DhGroup> DhGroup::Custom(ByteView p, ByteView gen) {
  DhGroup g;
  g.kind = kms::DhGroupKind::kCustom;
  SIMKMS_ASSIGN_OR_RETURN(g.ffdh, kms::MakeCustomFfdhParams(p, gen));
  return g;
}

std::size_t DhGroup::public_size() const { return kind == kms::DhGroupKind::kP256 ? 65 : ffdh.p.size(); }

Status DhGroup::ValidatePeer(ByteView y) const {
  if (kind == kms::DhGroupKind::kP256) return kms::ValidateP256Public(y);
  return kms::ValidateFfdhPublic(ffdh, y);
}

EphemeralKey::EphemeralKey(const DhGroup& group, void* pkey, Bytes pub)
    : group_(group), pkey_(pkey), public_(std::move(pub)) {}

EphemeralKey::~EphemeralKey() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

EphemeralKey::EphemeralKey(EphemeralKey&& o) noexcept
    : group_(std::move(o.group_)), pkey_(o.pkey_), public_(std::move(o.public_)) {
  o.pkey_ = nullptr;
}

EphemeralKey& EphemeralKey::operator=(EphemeralKey&& o) noexcept {
  if (this != &o) {
    EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_));
    group_ = std::move(o.group_);
    pkey_ = o.pkey_;
    public_ = std::move(o.public_);
    o.pkey_ = nullptr;
  }
  return *this;
}

StatusOr<EphemeralKey> EphemeralKey::Generate(const DhGroup& group) {
  SIMKMS_ASSIGN_OR_RETURN(EvpPkeyPtr params, GroupKey(group, {}, false));
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, params.get(), nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return InternalError("DH key generation failed");
  }
  EvpPkeyPtr key(raw);
  Bytes pub(group.public_size());
  if (group.kind == kms::DhGroupKind::kP256) {
    std::size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.data(), pub.size(), &len) != 1 ||
        len != 65) {
      return InternalError("cannot read the EC public key");
    }
  } else {
    BIGNUM* y = nullptr;
    if (EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_PUB_KEY, &y) != 1) return InternalError("no DH public key");
    BignumPtr owned(y);
    if (BN_bn2binpad(y, pub.data(), static_cast<int>(pub.size())) < 0) return InternalError("DH public too long");
  }
  return EphemeralKey(group, key.release(), std::move(pub));
}

StatusOr<SecretBytes> EphemeralKey::SharedSecret(ByteView peer) const {
  SIMKMS_RETURN_IF_ERROR(group_.ValidatePeer(peer));
  SIMKMS_ASSIGN_OR_RETURN(EvpPkeyPtr peer_key, GroupKey(group_, peer, true));
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, static_cast<EVP_PKEY*>(pkey_), nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1) return InternalError("DH derive init failed");
  if (group_.kind != kms::DhGroupKind::kP256 && EVP_PKEY_CTX_set_dh_pad(ctx.get(), 1) != 1) {
    return InternalError("DH padding option failed");
  }
  // The peer value was range- or curve-checked above; OpenSSL's full check
  // (y^q mod p) costs ~5x the exchange and adds nothing for safe-prime groups.
  if (EVP_PKEY_derive_set_peer_ex(ctx.get(), peer_key.get(), /*validate_peer=*/0) != 1) {
    return InvalidArgumentError("peer DH value refused");
  }
  std::size_t len = 0;
  if (EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1) return InternalError("DH derive failed");
  SecretBytes z(len);
  if (EVP_PKEY_derive(ctx.get(), z.mutable_data(), &len) != 1) return InternalError("DH derive failed");
  z.resize(len);
  return z;
}

StatusOr<SessionSecrets> DeriveSessionSecrets(const SecretBytes& z, const TranscriptHash& t) {
  if (z.size() < 32) return InvalidArgumentError("shared secret shorter than 32 bytes");
  SecretBytes k_z = SecretBytes::Copy(z.reveal().subspan(z.size() - 32));
  SessionSecrets s;
  SIMKMS_ASSIGN_OR_RETURN(s.ki2, AesEcbBlock(k_z, SessionKeyBlock(t, SessionKeyLabel::kKi2)));
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes puk_block, AesEcbBlock(k_z, SessionKeyBlock(t, SessionKeyLabel::kPuk)));
  s.puk = PukDigits(puk_block.reveal());
  SIMKMS_ASSIGN_OR_RETURN(s.k_activate, AesEcbBlock(k_z, SessionKeyBlock(t, SessionKeyLabel::kActivation)));
  return s;
}

StatusOr<OtaCiphers> DeriveOtaCiphers(const SecretBytes& base_key) {
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes enc_up, AesEcbBlock(base_key, OtaKeyBlock(OtaKeyLabel::kEncUp)));
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes mac_up, AesEcbBlock(base_key, OtaKeyBlock(OtaKeyLabel::kMacUp)));
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes enc_down, AesEcbBlock(base_key, OtaKeyBlock(OtaKeyLabel::kEncDown)));
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes mac_down, AesEcbBlock(base_key, OtaKeyBlock(OtaKeyLabel::kMacDown)));
  SIMKMS_ASSIGN_OR_RETURN(SoftwareOtaCipher up, SoftwareOtaCipher::Create(std::move(enc_up), std::move(mac_up)));
  SIMKMS_ASSIGN_OR_RETURN(SoftwareOtaCipher down,
                          SoftwareOtaCipher::Create(std::move(enc_down), std::move(mac_down)));
  return OtaCiphers{std::move(up), std::move(down)};
}

StatusOr<SecretBytes> DeriveConfirmKey(const SecretBytes& ki2) {
  return AesEcbBlock(ki2, OtaKeyBlock(OtaKeyLabel::kConfirm));
}

StatusOr<ShortMac> ShortCmac(const SecretBytes& key, ByteView data) {
  SIMKMS_ASSIGN_OR_RETURN(SoftwareOtaCipher c, SoftwareOtaCipher::Create(SecretBytes(16), SecretBytes::Copy(key.reveal())));
  SIMKMS_ASSIGN_OR_RETURN(Bytes mac, c.Cmac(data));
  ShortMac out{};
  std::copy(mac.begin(), mac.begin() + 8, out.begin());
  return out;
}

}  // namespace simkms::protocol
