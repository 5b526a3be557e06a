#include "sc-engine/protocol/code_blinding.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "base/openssl_ptr.h"
#include "base/secret_array.h"
#include "base/wiped_buffer.h"
#include "softcrypto/derivation_data.h"

namespace simkms::protocol {
namespace {

// Owners local to this file (softcrypto/dh_group.cc keeps its own the same way).
using SecretBignumPtr = std::unique_ptr<BIGNUM, OpensslDeleter<BIGNUM, BN_clear_free>>;  // wiped when freed
using BnCtxPtr = std::unique_ptr<BN_CTX, OpensslDeleter<BN_CTX, BN_CTX_free>>;
using EcGroupPtr = std::unique_ptr<EC_GROUP, OpensslDeleter<EC_GROUP, EC_GROUP_free>>;
using EcPointPtr = std::unique_ptr<EC_POINT, OpensslDeleter<EC_POINT, EC_POINT_clear_free>>;

// RFC 9382 §6, P-256: N, compressed (tests/protocol/code_blinding_test.cc recomputes
// it from the RFC's seed "1.2.840.10045.3.1.7 point generation seed (N)").
constexpr char kP256NHex[] = "03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49";

constexpr std::string_view kNLabel = "simkms-spake2-N";
constexpr std::string_view kWLabel = "simkms-spake2-w-v1";

void Append(Bytes& out, std::string_view s) { out.insert(out.end(), s.begin(), s.end()); }
void Append(Bytes& out, ByteView b) { out.insert(out.end(), b.begin(), b.end()); }

// SHA-256(prefix | i | suffix) for i = 0, 1, ... concatenated to `size` bytes.
StatusOr<SecretBytes> Expand(std::string_view prefix, ByteView suffix, std::size_t size) {
  SecretBytes out(0);
  Bytes in;
  WipeOnExit wipe_in(in);
  for (uint8_t i = 0; out.size() < size; ++i) {
    in.clear();
    Append(in, prefix);
    in.push_back(i);
    Append(in, suffix);
    SecretArray<32> digest;
    unsigned int len = 0;
    if (EVP_Digest(in.data(), in.size(), digest.mutable_data(), &len, EVP_sha256(), nullptr) != 1 || len != 32) {
      return InternalError("SHA-256 failed");
    }
    const std::size_t take = std::min<std::size_t>(32, size - out.size());
    const std::size_t at = out.size();
    out.resize(at + take);
    std::copy_n(digest.reveal().begin(), take, out.mutable_data() + at);
  }
  return out;
}

BignumPtr ToBn(ByteView b) { return BignumPtr(BN_bin2bn(b.data(), static_cast<int>(b.size()), nullptr)); }

Bytes ToFixed(const BIGNUM* bn, std::size_t size) {
  Bytes out(size);
  BN_bn2binpad(bn, out.data(), static_cast<int>(size));
  return out;
}

// The P-256 group and its N.
struct P256 {
  EcGroupPtr group;
  EcPointPtr n;
};
StatusOr<P256> LoadP256(BN_CTX* ctx) {
  P256 c{EcGroupPtr(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)), nullptr};
  if (!c.group) return InternalError("P-256 unavailable");
  SIMKMS_ASSIGN_OR_RETURN(Bytes n, FromHex(kP256NHex));
  c.n.reset(EC_POINT_new(c.group.get()));
  if (!c.n || EC_POINT_oct2point(c.group.get(), c.n.get(), n.data(), n.size(), ctx) != 1) {
    return InternalError("cannot decode the RFC 9382 N point");
  }
  return c;
}

StatusOr<EcPointPtr> DecodePoint(const P256& c, ByteView value, BN_CTX* ctx) {
  EcPointPtr p(EC_POINT_new(c.group.get()));
  if (!p || EC_POINT_oct2point(c.group.get(), p.get(), value.data(), value.size(), ctx) != 1) {
    return InvalidArgumentError("P-256 point does not decode");
  }
  return p;
}

StatusOr<Bytes> EncodePoint(const P256& c, const EC_POINT* p, BN_CTX* ctx) {
  if (EC_POINT_is_at_infinity(c.group.get(), p) == 1) return InvalidArgumentError("share is the identity");
  Bytes out(65);
  if (EC_POINT_point2oct(c.group.get(), p, POINT_CONVERSION_UNCOMPRESSED, out.data(), out.size(), ctx) != 65) {
    return InternalError("cannot encode a P-256 point");
  }
  return out;
}

// share + sign * w*N on P-256.
StatusOr<Bytes> P256Shift(ByteView share, const SecretBytes& w, bool subtract) {
  BnCtxPtr ctx(BN_CTX_secure_new());
  if (!ctx) return InternalError("BN_CTX_new failed");
  SIMKMS_ASSIGN_OR_RETURN(P256 c, LoadP256(ctx.get()));
  SIMKMS_ASSIGN_OR_RETURN(EcPointPtr p, DecodePoint(c, share, ctx.get()));
  SecretBignumPtr scalar(BN_secure_new());
  EcPointPtr wn(EC_POINT_new(c.group.get()));
  EcPointPtr out(EC_POINT_new(c.group.get()));
  if (!scalar || !wn || !out || !BN_bin2bn(w.reveal().data(), static_cast<int>(w.size()), scalar.get()) ||
      EC_POINT_mul(c.group.get(), wn.get(), nullptr, c.n.get(), scalar.get(), ctx.get()) != 1 ||
      (subtract && EC_POINT_invert(c.group.get(), wn.get(), ctx.get()) != 1) ||
      EC_POINT_add(c.group.get(), out.get(), p.get(), wn.get(), ctx.get()) != 1) {
    return InternalError("P-256 blinding arithmetic failed");
  }
  return EncodePoint(c, out.get(), ctx.get());
}

StatusOr<BignumPtr> FfdhN(const DhGroup& group, BN_CTX* ctx) {
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes wide, Expand(kNLabel, group.ffdh.p, group.ffdh.p.size() + 16));
  BignumPtr p = ToBn(group.ffdh.p);
  BignumPtr n = ToBn(wide.reveal());
  if (!p || !n || BN_mod(n.get(), n.get(), p.get(), ctx) != 1 || BN_mod_sqr(n.get(), n.get(), p.get(), ctx) != 1) {
    return InternalError("computing N failed");
  }
  // A square below 2 would need SHA-256 to hit 0 or +-1 mod p.
  if (BN_is_zero(n.get()) || BN_is_one(n.get())) return InternalError("degenerate N");
  return n;
}

// share * N^e mod p, e = w (blind) or q - w (unblind: N has order q).
StatusOr<Bytes> FfdhShift(const DhGroup& group, ByteView share, const SecretBytes& w, bool subtract) {
  BnCtxPtr ctx(BN_CTX_secure_new());
  if (!ctx) return InternalError("BN_CTX_new failed");
  SIMKMS_ASSIGN_OR_RETURN(BignumPtr n, FfdhN(group, ctx.get()));
  BignumPtr p = ToBn(group.ffdh.p);
  BignumPtr q = ToBn(group.ffdh.q);
  BignumPtr y = ToBn(share);
  SecretBignumPtr e(BN_secure_new());
  if (!p || !q || !y || !e || !BN_bin2bn(w.reveal().data(), static_cast<int>(w.size()), e.get()) ||
      (subtract && BN_sub(e.get(), q.get(), e.get()) != 1)) {
    return InternalError("blinding arithmetic failed");
  }
  BignumPtr nw(BN_new());
  if (!nw || BN_mod_exp_mont_consttime(nw.get(), n.get(), e.get(), p.get(), ctx.get(), nullptr) != 1 ||
      BN_mod_mul(y.get(), y.get(), nw.get(), p.get(), ctx.get()) != 1) {
    return InternalError("blinding arithmetic failed");
  }
  return ToFixed(y.get(), group.ffdh.p.size());
}

StatusOr<Bytes> Shift(const DhGroup& group, ByteView share, const SecretBytes& w, bool subtract) {
  if (group.kind == kms::DhGroupKind::kP256) return P256Shift(share, w, subtract);
  return FfdhShift(group, share, w, subtract);
}

}  // namespace

StatusOr<Bytes> BlindingElement(const DhGroup& group) {
  BnCtxPtr ctx(BN_CTX_new());
  if (!ctx) return InternalError("BN_CTX_new failed");
  if (group.kind == kms::DhGroupKind::kP256) {
    SIMKMS_ASSIGN_OR_RETURN(P256 c, LoadP256(ctx.get()));
    return EncodePoint(c, c.n.get(), ctx.get());
  }
  SIMKMS_ASSIGN_OR_RETURN(BignumPtr n, FfdhN(group, ctx.get()));
  return ToFixed(n.get(), group.ffdh.p.size());
}

StatusOr<SecretBytes> CodeScalar(const DhGroup& group, std::string_view imsi, uint32_t ver,
                                 const SecretBytes& verifier) {
  SIMKMS_ASSIGN_OR_RETURN(auto imsi8, kms::PackImsi(imsi));
  Bytes context;
  WipeOnExit wipe_context(context);
  Append(context, imsi8);
  for (int i = 0; i < 4; ++i) context.push_back(0);
  for (int i = 0; i < 4; ++i) context.push_back(static_cast<uint8_t>(ver >> (24 - 8 * i)));
  Append(context, verifier.reveal());
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes wide, Expand(kWLabel, context, 64));

  BnCtxPtr ctx(BN_CTX_secure_new());
  BignumPtr order;
  if (group.kind == kms::DhGroupKind::kP256) {
    SIMKMS_ASSIGN_OR_RETURN(P256 c, LoadP256(ctx.get()));
    order.reset(BN_dup(EC_GROUP_get0_order(c.group.get())));
  } else {
    order = ToBn(group.ffdh.q);
  }
  SecretBignumPtr w(BN_secure_new());
  if (!ctx || !order || !w || !BN_bin2bn(wide.reveal().data(), static_cast<int>(wide.size()), w.get()) ||
      BN_mod(w.get(), w.get(), order.get(), ctx.get()) != 1) {
    return InternalError("computing w failed");
  }
  SecretBytes out(static_cast<std::size_t>(BN_num_bytes(order.get())));
  BN_bn2binpad(w.get(), out.mutable_data(), static_cast<int>(out.size()));
  return out;
}

Status ValidateShare(const DhGroup& group, ByteView value) {
  SIMKMS_RETURN_IF_ERROR(group.ValidatePeer(value));
  if (group.kind == kms::DhGroupKind::kP256) return OkStatus();  // cofactor 1: on the curve is in the group
  BnCtxPtr ctx(BN_CTX_new());
  BignumPtr y = ToBn(value);
  BignumPtr p = ToBn(group.ffdh.p);
  if (!ctx || !y || !p) return InternalError("BN allocation failed");
  const int symbol = BN_kronecker(y.get(), p.get(), ctx.get());
  if (symbol == -2) return InternalError("Jacobi symbol failed");
  if (symbol != 1) return InvalidArgumentError("DH public value is not in the order-q subgroup");
  return OkStatus();
}

StatusOr<Bytes> BlindShare(const DhGroup& group, ByteView share, const SecretBytes& w) {
  return Shift(group, share, w, /*subtract=*/false);
}

StatusOr<Bytes> UnblindShare(const DhGroup& group, ByteView blinded, const SecretBytes& w) {
  if (Status s = ValidateShare(group, blinded); !s.ok()) {
    return InvalidArgumentError("blinded share refused: " + std::string(s.message()));
  }
  SIMKMS_ASSIGN_OR_RETURN(Bytes share, Shift(group, blinded, w, /*subtract=*/true));
  if (Status s = ValidateShare(group, share); !s.ok()) {
    return InvalidArgumentError("unblinded share refused: " + std::string(s.message()));
  }
  return share;
}

}  // namespace simkms::protocol
