#include "softcrypto/dh_group.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>

#include <memory>
#include <string>

namespace simkms::kms {

namespace {

struct BnDeleter {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct BnCtxDeleter {
  void operator()(BN_CTX* ctx) const { BN_CTX_free(ctx); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* pkey) const { EVP_PKEY_free(pkey); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct EcGroupDeleter {
  void operator()(EC_GROUP* group) const { EC_GROUP_free(group); }
};
struct EcPointDeleter {
  void operator()(EC_POINT* point) const { EC_POINT_free(point); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;
using BnCtxPtr = std::unique_ptr<BN_CTX, BnCtxDeleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;
using EcGroupPtr = std::unique_ptr<EC_GROUP, EcGroupDeleter>;
using EcPointPtr = std::unique_ptr<EC_POINT, EcPointDeleter>;

constexpr int kMinCustomBits = 2048;
constexpr int kMaxCustomBits = 8192;
constexpr std::size_t kP256FieldBytes = 32;
constexpr std::size_t kP256UncompressedSize = 1 + 2 * kP256FieldBytes;

// An OpenSSL failure becomes an Internal status; the error queue is drained so
// it does not leak into an unrelated caller's diagnostics.
Status OpenSslError(std::string what) {
  const unsigned long err = ERR_get_error();
  ERR_clear_error();
  if (err != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    what += ": ";
    what += buf;
  }
  return InternalError(std::move(what));
}

StatusOr<BnPtr> ToBn(ByteView bytes) {
  BnPtr bn(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  if (!bn) return OpenSslError("BN_bin2bn");
  return bn;
}

Bytes FromBn(const BIGNUM* bn) {
  Bytes out(static_cast<std::size_t>(BN_num_bytes(bn)));
  if (!out.empty()) BN_bn2bin(bn, out.data());
  return out;
}

StatusOr<FfdhParams> LoadNamedGroup(const char* name) {
  // OpenSSL 3 knows the RFC 7919 groups by name; building a parameters-only DH key
  // from the name and reading p and g back avoids copying the constants by hand.
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr));
  if (!ctx) return OpenSslError("EVP_PKEY_CTX_new_from_name(DH)");
  if (EVP_PKEY_fromdata_init(ctx.get()) != 1) return OpenSslError("EVP_PKEY_fromdata_init");
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(name), 0),
      OSSL_PARAM_construct_end(),
  };
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEY_PARAMETERS, params) != 1) {
    return OpenSslError(std::string("EVP_PKEY_fromdata(group ") + name + ")");
  }
  PkeyPtr pkey(raw);
  BIGNUM* p_raw = nullptr;
  BIGNUM* g_raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_FFC_P, &p_raw) != 1) return OpenSslError("reading p");
  BnPtr p(p_raw);
  if (EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_FFC_G, &g_raw) != 1) return OpenSslError("reading g");
  BnPtr g(g_raw);
  // q = (p - 1) / 2 = p >> 1 for odd p; computed rather than read, since the RFC
  // defines the groups as safe primes and older providers may omit q.
  BnPtr q(BN_new());
  if (!q || BN_rshift1(q.get(), p.get()) != 1) return OpenSslError("computing q");
  return FfdhParams{FromBn(p.get()), FromBn(g.get()), FromBn(q.get())};
}

Status CheckMinimal(ByteView v, const char* name) {
  if (v.empty()) return InvalidArgumentError(std::string(name) + " is empty");
  if (v[0] == 0) {
    return InvalidArgumentError(std::string(name) + " has a leading zero byte: not a minimal big-endian encoding");
  }
  return OkStatus();
}

struct CustomGroup {
  BnPtr p;
  BnPtr g;
  BnPtr q;
};

StatusOr<CustomGroup> ValidateCustomGroupImpl(ByteView p_bytes, ByteView g_bytes) {
  SIMKMS_RETURN_IF_ERROR(CheckMinimal(p_bytes, "p"));
  SIMKMS_RETURN_IF_ERROR(CheckMinimal(g_bytes, "g"));
  // Cheap structural checks first: an oversized p must not buy an expensive primality
  // test, nor even a bignum conversion.
  if (p_bytes.size() > static_cast<std::size_t>(kMaxCustomBits / 8) + 1) {
    return InvalidArgumentError("p has " + std::to_string(p_bytes.size()) + " bytes, more than the maximum " +
                                std::to_string(kMaxCustomBits) + " bits");
  }
  SIMKMS_ASSIGN_OR_RETURN(BnPtr p, ToBn(p_bytes));
  SIMKMS_ASSIGN_OR_RETURN(BnPtr g, ToBn(g_bytes));
  const int bits = BN_num_bits(p.get());
  if (bits < kMinCustomBits) {
    return InvalidArgumentError("p has " + std::to_string(bits) + " bits, fewer than the minimum " +
                                std::to_string(kMinCustomBits));
  }
  if (bits > kMaxCustomBits) {
    return InvalidArgumentError("p has " + std::to_string(bits) + " bits, more than the maximum " +
                                std::to_string(kMaxCustomBits));
  }
  if (!BN_is_odd(p.get())) return InvalidArgumentError("p is even");

  BnPtr p_minus_2(BN_dup(p.get()));
  if (!p_minus_2 || BN_sub_word(p_minus_2.get(), 2) != 1) return OpenSslError("computing p - 2");
  if (BN_cmp(g.get(), BN_value_one()) <= 0) return InvalidArgumentError("g must be at least 2");
  if (BN_cmp(g.get(), p_minus_2.get()) > 0) {
    return InvalidArgumentError("g must be at most p - 2 (g = p - 1 has order 2)");
  }

  BnCtxPtr ctx(BN_CTX_new());
  if (!ctx) return OpenSslError("BN_CTX_new");
  int r = BN_check_prime(p.get(), ctx.get(), nullptr);
  if (r < 0) return OpenSslError("BN_check_prime(p)");
  if (r == 0) return InvalidArgumentError("p is not prime");
  BnPtr q(BN_new());
  if (!q || BN_rshift1(q.get(), p.get()) != 1) return OpenSslError("computing q");
  r = BN_check_prime(q.get(), ctx.get(), nullptr);
  if (r < 0) return OpenSslError("BN_check_prime(q)");
  if (r == 0) return InvalidArgumentError("q = (p - 1) / 2 is not prime: p is not a safe prime");

  BnPtr gq(BN_new());
  if (!gq || BN_mod_exp(gq.get(), g.get(), q.get(), p.get(), ctx.get()) != 1) return OpenSslError("computing g^q mod p");
  if (!BN_is_one(gq.get())) {
    return InvalidArgumentError("g does not generate the order-q subgroup (g^q mod p != 1): g is a quadratic "
                                "non-residue; use e.g. g = 4 or g squared");
  }
  return CustomGroup{std::move(p), std::move(g), std::move(q)};
}

}  // namespace

std::string_view DhGroupKindName(DhGroupKind kind) {
  switch (kind) {
    case DhGroupKind::kFfdhe2048: return "ffdhe2048";
    case DhGroupKind::kFfdhe3072: return "ffdhe3072";
    case DhGroupKind::kP256: return "p256";
    case DhGroupKind::kCustom: return "custom";
  }
  return "unknown";
}

StatusOr<DhGroupKind> ParseDhGroupKind(std::string_view name) {
  for (DhGroupKind kind : {DhGroupKind::kFfdhe2048, DhGroupKind::kFfdhe3072, DhGroupKind::kP256, DhGroupKind::kCustom}) {
    if (name == DhGroupKindName(kind)) return kind;
  }
  return InvalidArgumentError("unknown DH group \"" + std::string(name) +
                              "\" (expected ffdhe2048, ffdhe3072, p256 or custom)");
}

bool IsFiniteField(DhGroupKind kind) { return kind != DhGroupKind::kP256; }

StatusOr<FfdhParams> NamedFfdhParams(DhGroupKind kind) {
  // Function-local statics: loaded once, thread-safe initialisation.
  switch (kind) {
    case DhGroupKind::kFfdhe2048: {
      static const StatusOr<FfdhParams> params = LoadNamedGroup("ffdhe2048");
      return params;
    }
    case DhGroupKind::kFfdhe3072: {
      static const StatusOr<FfdhParams> params = LoadNamedGroup("ffdhe3072");
      return params;
    }
    case DhGroupKind::kP256:
    case DhGroupKind::kCustom:
      break;
  }
  return InvalidArgumentError("DH group " + std::string(DhGroupKindName(kind)) + " has no named finite-field parameters");
}

Status ValidateCustomGroup(ByteView p, ByteView g) {
  StatusOr<CustomGroup> group = ValidateCustomGroupImpl(p, g);
  return group.ok() ? OkStatus() : group.status().WithContext("custom DH group");
}

StatusOr<FfdhParams> MakeCustomFfdhParams(ByteView p, ByteView g) {
  StatusOr<CustomGroup> group = ValidateCustomGroupImpl(p, g);
  if (!group.ok()) return group.status().WithContext("custom DH group");
  return FfdhParams{FromBn(group->p.get()), FromBn(group->g.get()), FromBn(group->q.get())};
}

Status ValidateFfdhPublic(const FfdhParams& params, ByteView y) {
  if (params.p.empty()) return InvalidArgumentError("DH group has no p");
  if (y.size() != params.p.size()) {
    return InvalidArgumentError("DH public value has " + std::to_string(y.size()) + " bytes, the group needs exactly " +
                                std::to_string(params.p.size()) + " (fixed-length encoding)");
  }
  SIMKMS_ASSIGN_OR_RETURN(BnPtr p, ToBn(params.p));
  SIMKMS_ASSIGN_OR_RETURN(BnPtr value, ToBn(y));
  BnPtr p_minus_2(BN_dup(p.get()));
  if (!p_minus_2 || BN_sub_word(p_minus_2.get(), 2) != 1) return OpenSslError("computing p - 2");
  // 0 and 1 (and p - 1) would force the shared secret into {0, 1, p - 1}.
  if (BN_cmp(value.get(), BN_value_one()) <= 0) return InvalidArgumentError("DH public value is 0 or 1");
  if (BN_cmp(value.get(), p_minus_2.get()) > 0) {
    return InvalidArgumentError("DH public value is p - 1 or larger (must be at most p - 2)");
  }
  return OkStatus();
}

Status ValidateP256Public(ByteView point) {
  if (point.size() == 1 && point[0] == 0x00) {
    return InvalidArgumentError("P-256 public point is the point at infinity");
  }
  if (point.size() != kP256UncompressedSize) {
    return InvalidArgumentError("P-256 public point has " + std::to_string(point.size()) + " bytes, expected " +
                                std::to_string(kP256UncompressedSize) + " (uncompressed 04 || X || Y)");
  }
  if (point[0] != 0x04) {
    return InvalidArgumentError("P-256 public point is not in uncompressed form (first byte must be 04)");
  }
  EcGroupPtr group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  if (!group) return OpenSslError("EC_GROUP_new_by_curve_name(P-256)");
  BnCtxPtr ctx(BN_CTX_new());
  BnPtr field(BN_new());
  if (!ctx || !field || EC_GROUP_get_curve(group.get(), field.get(), nullptr, nullptr, ctx.get()) != 1) {
    return OpenSslError("EC_GROUP_get_curve");
  }
  SIMKMS_ASSIGN_OR_RETURN(BnPtr x, ToBn(point.subspan(1, kP256FieldBytes)));
  SIMKMS_ASSIGN_OR_RETURN(BnPtr y, ToBn(point.subspan(1 + kP256FieldBytes, kP256FieldBytes)));
  if (BN_cmp(x.get(), field.get()) >= 0 || BN_cmp(y.get(), field.get()) >= 0) {
    return InvalidArgumentError("P-256 public point has a coordinate not below the field prime");
  }
  EcPointPtr ec_point(EC_POINT_new(group.get()));
  if (!ec_point) return OpenSslError("EC_POINT_new");
  // oct2point already refuses an off-curve point; the explicit checks below say why
  // and do not depend on that detail of the library.
  if (EC_POINT_oct2point(group.get(), ec_point.get(), point.data(), point.size(), ctx.get()) != 1) {
    ERR_clear_error();
    return InvalidArgumentError("P-256 public point is not on the curve");
  }
  if (EC_POINT_is_at_infinity(group.get(), ec_point.get())) {
    return InvalidArgumentError("P-256 public point is the point at infinity");
  }
  const int on_curve = EC_POINT_is_on_curve(group.get(), ec_point.get(), ctx.get());
  if (on_curve < 0) return OpenSslError("EC_POINT_is_on_curve");
  if (on_curve == 0) return InvalidArgumentError("P-256 public point is not on the curve");
  return OkStatus();
}

}  // namespace simkms::kms
