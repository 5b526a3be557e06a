// The activation code's blinding of the SC's DH share (docs/protocol.md §5.1):
// N recomputed from the doc's text (P-256: RFC 9382's own procedure), w's vector,
// the round trip, and the refusal of values outside the group.
#include "sc-engine/protocol/code_blinding.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "sc-engine/protocol/key_schedule.h"
#include "tests/support/status_testing.h"

namespace simkms::protocol {
namespace {

template <typename T>
T Unwrap(StatusOr<T> v) {
  EXPECT_OK(v);
  return std::move(v).value();
}

Bytes Sha256(ByteView in) {
  Bytes out(32);
  unsigned int len = 0;
  EVP_Digest(in.data(), in.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

// RFC 9382 §6's generation of M and N (its Python, in C++): iterated SHA-256 of the
// seed, the first byte's low bit as the sign of a compressed point, the first
// candidate that decodes.
Bytes Rfc9382Point(std::string_view seed) {
  EC_GROUP* group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  EC_POINT* point = EC_POINT_new(group);
  auto iterated = [&](int n) {
    Bytes h(seed.begin(), seed.end());
    for (int i = 0; i < n; ++i) h = Sha256(h);
    return h;
  };
  Bytes out;
  for (int i = 1; i < 1000 && out.empty(); ++i) {
    Bytes candidate = iterated(i);
    Bytes next = iterated(i + 1);
    candidate.push_back(next[0]);  // 33 bytes
    candidate[0] = static_cast<uint8_t>((candidate[0] & 1) | 2);
    if (EC_POINT_oct2point(group, point, candidate.data(), candidate.size(), nullptr) == 1) {
      out.resize(65);
      EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, out.data(), out.size(), nullptr);
    }
  }
  EC_POINT_free(point);
  EC_GROUP_free(group);
  return out;
}

TEST(CodeBlinding, P256NIsRfc9382sN) {
  DhGroup group = Unwrap(DhGroup::Named(kms::DhGroupKind::kP256));
  const Bytes n = Rfc9382Point("1.2.840.10045.3.1.7 point generation seed (N)");
  ASSERT_EQ(n.size(), 65u);
  EXPECT_EQ(Unwrap(BlindingElement(group)), n);
  // The compressed form the doc prints.
  EXPECT_EQ(ToHex(ByteView(n).subspan(1, 32)), "d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49");
  EXPECT_EQ(n.back() & 1, 1);  // odd y: 03 prefix
}

// N = (E mod p)^2 mod p, E = SHA-256("simkms-spake2-N" | i | p) for i = 0.. cut to len(p) + 16.
Bytes FfdhNFromTheDoc(const Bytes& p_bytes) {
  Bytes e;
  for (uint8_t i = 0; e.size() < p_bytes.size() + 16; ++i) {
    Bytes in{'s', 'i', 'm', 'k', 'm', 's', '-', 's', 'p', 'a', 'k', 'e', '2', '-', 'N', i};
    in.insert(in.end(), p_bytes.begin(), p_bytes.end());
    Bytes h = Sha256(in);
    e.insert(e.end(), h.begin(), h.end());
  }
  e.resize(p_bytes.size() + 16);
  BN_CTX* ctx = BN_CTX_new();
  BIGNUM* p = BN_bin2bn(p_bytes.data(), static_cast<int>(p_bytes.size()), nullptr);
  BIGNUM* n = BN_bin2bn(e.data(), static_cast<int>(e.size()), nullptr);
  BN_mod(n, n, p, ctx);
  BN_mod_sqr(n, n, p, ctx);
  Bytes out(p_bytes.size());
  BN_bn2binpad(n, out.data(), static_cast<int>(out.size()));
  BN_free(n);
  BN_free(p);
  BN_CTX_free(ctx);
  return out;
}

TEST(CodeBlinding, FiniteFieldNIsRecomputedFromTheDocAndIsInTheSubgroup) {
  for (kms::DhGroupKind kind : {kms::DhGroupKind::kFfdhe2048, kms::DhGroupKind::kFfdhe3072}) {
    DhGroup group = Unwrap(DhGroup::Named(kind));
    const Bytes n = Unwrap(BlindingElement(group));
    EXPECT_EQ(n, FfdhNFromTheDoc(group.ffdh.p)) << kms::DhGroupKindName(kind);
    EXPECT_OK(ValidateShare(group, n));
  }
  DhGroup ffdhe2048 = Unwrap(DhGroup::Named(kms::DhGroupKind::kFfdhe2048));
  // docs/protocol.md §8.
  EXPECT_EQ(ToHex(ByteView(Unwrap(BlindingElement(ffdhe2048))).first(16)), "0494089a2f1507da8f0f9f46648bb88b");
}

TEST(CodeBlinding, CodeScalarVectors) {
  SecretBytes verifier = Unwrap(ActivationVerifier("001019876543210", "123456"));
  DhGroup ffdhe2048 = Unwrap(DhGroup::Named(kms::DhGroupKind::kFfdhe2048));
  SecretBytes w = Unwrap(CodeScalar(ffdhe2048, "001019876543210", 3, verifier));
  ASSERT_EQ(w.size(), 256u);
  // 64 hash bytes are below q: the reduction is the identity for the finite-field groups.
  EXPECT_EQ(ToHex(w.reveal().subspan(192)),
            "662ff24a0e48977cfc2113be7aad25c27f82f928dcb3a4d5947c65dcbb105527"
            "168d0a6e729a60dc5b524e6623c6a8d35fd605f4b3f44be523e349fdb3fdc1fd");
  DhGroup p256 = Unwrap(DhGroup::Named(kms::DhGroupKind::kP256));
  EXPECT_EQ(ToHex(Unwrap(CodeScalar(p256, "001019876543210", 3, verifier)).reveal()),
            "0f405d7e6a0608b9cd955e7104ee520cf9c55659896cbef8d57258eba42d248c");
  // Bound to IMSI and VER.
  const std::string base = ToHex(Unwrap(CodeScalar(p256, "001019876543210", 3, verifier)).reveal());
  EXPECT_NE(ToHex(Unwrap(CodeScalar(p256, "001019876543211", 3, verifier)).reveal()), base);
  EXPECT_NE(ToHex(Unwrap(CodeScalar(p256, "001019876543210", 4, verifier)).reveal()), base);
}

class CodeBlindingGroups : public ::testing::TestWithParam<kms::DhGroupKind> {};

TEST_P(CodeBlindingGroups, OnlyTheRightCodeUnblinds) {
  DhGroup group = Unwrap(DhGroup::Named(GetParam()));
  EphemeralKey key = Unwrap(EphemeralKey::Generate(group));
  SecretBytes w = Unwrap(CodeScalar(group, "001019876543210", 3, Unwrap(ActivationVerifier("001019876543210", "314159"))));
  SecretBytes wrong =
      Unwrap(CodeScalar(group, "001019876543210", 3, Unwrap(ActivationVerifier("001019876543210", "314158"))));
  const Bytes blinded = Unwrap(BlindShare(group, key.public_value(), w));
  EXPECT_NE(blinded, key.public_value());
  EXPECT_OK(ValidateShare(group, blinded));
  EXPECT_EQ(Unwrap(UnblindShare(group, blinded, w)), key.public_value());
  EXPECT_NE(Unwrap(UnblindShare(group, blinded, wrong)), key.public_value());
}

INSTANTIATE_TEST_SUITE_P(Groups, CodeBlindingGroups,
                         ::testing::Values(kms::DhGroupKind::kFfdhe2048, kms::DhGroupKind::kP256),
                         [](const auto& info) { return std::string(kms::DhGroupKindName(info.param)); });

TEST(CodeBlinding, ValuesOutsideTheSubgroupAreRefused) {
  DhGroup group = Unwrap(DhGroup::Named(kms::DhGroupKind::kFfdhe2048));
  SecretBytes w = Unwrap(CodeScalar(group, "001019876543210", 3, Unwrap(ActivationVerifier("001019876543210", "314159"))));
  // p - 2 = -2: in range, but not a square (p = 7 mod 8), so of order 2q.
  BIGNUM* p = BN_bin2bn(group.ffdh.p.data(), static_cast<int>(group.ffdh.p.size()), nullptr);
  BN_sub_word(p, 2);
  Bytes minus_two(group.ffdh.p.size());
  BN_bn2binpad(p, minus_two.data(), static_cast<int>(minus_two.size()));
  BN_free(p);
  Status s = ValidateShare(group, minus_two);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "DH public value is not in the order-q subgroup");
  auto unblinded = UnblindShare(group, minus_two, w);
  EXPECT_EQ(unblinded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(unblinded.status().message(), "blinded share refused: DH public value is not in the order-q subgroup");
  // The identity (y = 1) is out of range.
  Bytes one(group.ffdh.p.size(), 0);
  one.back() = 1;
  EXPECT_EQ(UnblindShare(group, one, w).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateShare(group, one).code(), StatusCode::kInvalidArgument);
  // P-256: a point off the curve.
  DhGroup p256 = Unwrap(DhGroup::Named(kms::DhGroupKind::kP256));
  Bytes off(65, 0x01);
  off[0] = 0x04;
  EXPECT_EQ(UnblindShare(p256, off, w).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace simkms::protocol
