#include "softcrypto/dh_group.h"
#include "tests/support/status_testing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>

namespace simkms::kms {
namespace {

using ::testing::HasSubstr;

// RFC 7919 Appendix A.1 / A.2, as printed in the RFC (cross-checked while writing
// this test against two independent published copies and against the RFC's
// defining formula p = 2^b - 2^(b-64) + (floor(2^(b-130) e) + X) * 2^64 - 1 with
// X = 560316 for b = 2048 and X = 2625351 for b = 3072).
constexpr char kFfdhe2048P[] =
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695"
    "A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A"
    "D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935"
    "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A"
    "BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4"
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61"
    "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005"
    "C58EF1837D1683B2C6F34A26C1B2EFFA886B423861285C97FFFFFFFFFFFFFFFF";

constexpr char kFfdhe3072P[] =
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695"
    "A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A"
    "D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935"
    "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A"
    "BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4"
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61"
    "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005"
    "C58EF1837D1683B2C6F34A26C1B2EFFA886B4238611FCFDCDE355B3B6519035B"
    "BC34F4DEF99C023861B46FC9D6E6C9077AD91D2691F7F7EE598CB0FAC186D91C"
    "AEFE130985139270B4130C93BC437944F4FD4452E2D74DD364F2E21E71F54BFF"
    "5CAE82AB9C9DF69EE86D2BC522363A0DABC521979B0DEADA1DBF9A42D5C4484E"
    "0ABCD06BFA53DDEF3C1B20EE3FD59D7C25E41D2B66C62E37FFFFFFFFFFFFFFFF";

// RFC 3526 group 5, a 1536-bit safe prime: valid structure, too small.
constexpr char kModp1536P[] =
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
    "9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF";

// A 2048-bit prime whose (p - 1) / 2 is composite (openssl prime -generate -bits 2048).
constexpr char kNonSafePrime2048[] =
    "D26386AA8BCCC1A7C4F9B5B72BFEBF8D5E8CFC1C16CB383EEFF2131424B6184F"
    "7671423FF11FF679F73BBE153E2BC95503B6D467305880D1715586DEE23F4D62"
    "D2363DF7E4C91365CA7C32F966CCB828C3AF3B8C97200A6E0060BA8027F00860"
    "6BDA3EF0FFA53501276BFE68F8B5679C47AA2422704E4CD5D7D5AE4EBE38716C"
    "2ECE5AA1FE28C3B00D79A248DCD95933A4750E90BD5F9AAB9DFCE733729FF0FF"
    "1F3DC834FC5E7B18A80E558E27D85745A67C44861635F432A736370A00F4143E"
    "7D2FC684F80977A144A1EF95603D07882406141876D38080546A6125B715C1F9"
    "2B659F1E0A49D27162C71448A1E4AB60E5FA61803DC4440881951DC4EA8959AB";

// P-256 base point G (SEC 2 / FIPS 186-4) and field prime.
constexpr char kP256Gx[] = "6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296";
constexpr char kP256Gy[] = "4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5";
constexpr char kP256Field[] = "FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF";

Bytes Hex(std::string_view hex) {
  auto bytes = FromHex(hex);
  EXPECT_OK(bytes);
  return bytes.ok() ? *bytes : Bytes();
}

std::string UpperHex(ByteView b) {
  std::string s = ToHex(b);
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

struct BnFree {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;

Bn ToBn(ByteView b) { return Bn(BN_bin2bn(b.data(), static_cast<int>(b.size()), nullptr)); }

Bytes ToFixed(const BIGNUM* bn, std::size_t len) {
  Bytes out(len);
  EXPECT_EQ(BN_bn2binpad(bn, out.data(), static_cast<int>(len)), static_cast<int>(len));
  return out;
}

// p + delta (delta may be negative), encoded on len(p) bytes.
Bytes POffset(const Bytes& p, long delta) {
  Bn v = ToBn(p);
  if (delta >= 0) {
    BN_add_word(v.get(), static_cast<BN_ULONG>(delta));
  } else {
    BN_sub_word(v.get(), static_cast<BN_ULONG>(-delta));
  }
  return ToFixed(v.get(), p.size());
}

FfdhParams Ffdhe2048() {
  auto params = NamedFfdhParams(DhGroupKind::kFfdhe2048);
  EXPECT_OK(params);
  return params.ok() ? *params : FfdhParams{};
}

void ExpectInvalid(const Status& status, std::string_view fragment) {
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr(std::string(fragment)));
}

// ---- names ----

TEST(DhGroupTest, NamesRoundTrip) {
  for (DhGroupKind kind : {DhGroupKind::kFfdhe2048, DhGroupKind::kFfdhe3072, DhGroupKind::kP256, DhGroupKind::kCustom}) {
    auto parsed = ParseDhGroupKind(DhGroupKindName(kind));
    ASSERT_OK(parsed);
    EXPECT_EQ(*parsed, kind);
  }
  EXPECT_EQ(DhGroupKindName(DhGroupKind::kFfdhe2048), "ffdhe2048");
  EXPECT_EQ(DhGroupKindName(DhGroupKind::kFfdhe3072), "ffdhe3072");
  EXPECT_EQ(DhGroupKindName(DhGroupKind::kP256), "p256");
  EXPECT_EQ(DhGroupKindName(DhGroupKind::kCustom), "custom");
  EXPECT_EQ(kDefaultDhGroup, DhGroupKind::kFfdhe2048);
  for (std::string_view bad : {"", "FFDHE2048", "ffdhe4096", "P-256", "secp256r1", "modp2048"}) {
    EXPECT_EQ(ParseDhGroupKind(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(IsFiniteField(DhGroupKind::kFfdhe3072));
  EXPECT_TRUE(IsFiniteField(DhGroupKind::kCustom));
  EXPECT_FALSE(IsFiniteField(DhGroupKind::kP256));
}

// ---- RFC 7919 constants ----

TEST(DhGroupTest, Ffdhe2048MatchesRfc7919) {
  auto params = NamedFfdhParams(DhGroupKind::kFfdhe2048);
  ASSERT_OK(params);
  EXPECT_EQ(UpperHex(params->p), kFfdhe2048P);
  EXPECT_EQ(params->p.size(), 256u);
  EXPECT_EQ(params->g, Bytes{0x02});
  // q = (p - 1) / 2.
  Bn q2 = ToBn(params->q);
  BN_lshift1(q2.get(), q2.get());
  BN_add_word(q2.get(), 1);
  EXPECT_EQ(BN_cmp(q2.get(), ToBn(params->p).get()), 0);
}

TEST(DhGroupTest, Ffdhe3072MatchesRfc7919) {
  auto params = NamedFfdhParams(DhGroupKind::kFfdhe3072);
  ASSERT_OK(params);
  EXPECT_EQ(UpperHex(params->p), kFfdhe3072P);
  EXPECT_EQ(params->p.size(), 384u);
  EXPECT_EQ(params->g, Bytes{0x02});
  Bn q2 = ToBn(params->q);
  BN_lshift1(q2.get(), q2.get());
  BN_add_word(q2.get(), 1);
  EXPECT_EQ(BN_cmp(q2.get(), ToBn(params->p).get()), 0);
}

TEST(DhGroupTest, NoNamedParamsForP256OrCustom) {
  EXPECT_EQ(NamedFfdhParams(DhGroupKind::kP256).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(NamedFfdhParams(DhGroupKind::kCustom).status().code(), StatusCode::kInvalidArgument);
}

// ---- custom groups ----

TEST(DhGroupTest, Ffdhe2048AcceptedAsCustomGroup) {
  const Bytes p = Hex(kFfdhe2048P);
  const auto start = std::chrono::steady_clock::now();
  Status status = ValidateCustomGroup(p, Bytes{0x02});
  const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_OK(status);
  std::cout << "ValidateCustomGroup(2048-bit safe prime): " << elapsed << " s" << std::endl;
  RecordProperty("validate_2048_seconds", std::to_string(elapsed));

  EXPECT_OK(ValidateCustomGroup(p, Bytes{0x04}));
  auto made = MakeCustomFfdhParams(p, Bytes{0x04});
  ASSERT_OK(made);
  EXPECT_EQ(made->p, p);
  EXPECT_EQ(made->g, Bytes{0x04});
  EXPECT_EQ(made->q, Ffdhe2048().q);
}

TEST(DhGroupTest, Ffdhe3072AcceptedAsCustomGroup) {
  const auto start = std::chrono::steady_clock::now();
  Status status = ValidateCustomGroup(Hex(kFfdhe3072P), Bytes{0x02});
  const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_OK(status);
  std::cout << "ValidateCustomGroup(3072-bit safe prime): " << elapsed << " s" << std::endl;
  RecordProperty("validate_3072_seconds", std::to_string(elapsed));
}

TEST(DhGroupTest, CustomGroupRejectsSmallOrHugeP) {
  ExpectInvalid(ValidateCustomGroup(Bytes{23}, Bytes{4}), "fewer than the minimum 2048");  // safe prime 23 = 2*11+1
  ExpectInvalid(ValidateCustomGroup(Hex(kModp1536P), Bytes{2}), "1536 bits");
  Bytes huge(2000, 0xff);  // 16000 bits: refused before any bignum work
  ExpectInvalid(ValidateCustomGroup(huge, Bytes{2}), "more than the maximum 8192");
  Bytes just_over(1024, 0xff);
  just_over.insert(just_over.begin(), 0x01);  // 8193 bits
  ExpectInvalid(ValidateCustomGroup(just_over, Bytes{2}), "more than the maximum 8192");
}

TEST(DhGroupTest, CustomGroupRejectsBadP) {
  const Bytes p = Hex(kFfdhe2048P);
  ExpectInvalid(ValidateCustomGroup(POffset(p, -1), Bytes{2}), "p is even");
  ExpectInvalid(ValidateCustomGroup(POffset(p, -2), Bytes{2}), "p is not prime");
  ExpectInvalid(ValidateCustomGroup(Hex(kNonSafePrime2048), Bytes{2}), "not a safe prime");
  Bytes padded = p;
  padded.insert(padded.begin(), 0x00);
  ExpectInvalid(ValidateCustomGroup(padded, Bytes{2}), "leading zero");
  ExpectInvalid(ValidateCustomGroup(Bytes{}, Bytes{2}), "p is empty");
}

TEST(DhGroupTest, CustomGroupRejectsBadG) {
  const Bytes p = Hex(kFfdhe2048P);
  ExpectInvalid(ValidateCustomGroup(p, Bytes{}), "g is empty");
  ExpectInvalid(ValidateCustomGroup(p, Bytes{0x00, 0x02}), "leading zero");
  ExpectInvalid(ValidateCustomGroup(p, Bytes{0x01}), "at least 2");
  ExpectInvalid(ValidateCustomGroup(p, POffset(p, -1)), "at most p - 2");  // order 2
  ExpectInvalid(ValidateCustomGroup(p, p), "at most p - 2");
  // ffdhe p = 7 mod 8, so 2 is a quadratic residue (order q) but 7 is not: 7^q = p - 1.
  ExpectInvalid(ValidateCustomGroup(p, Bytes{0x07}), "order-q subgroup");
  ExpectInvalid(ValidateCustomGroup(p, Bytes{0x0b}), "order-q subgroup");
  // p - 2 = -2 is a non-residue too (-1 is one for p = 3 mod 4, 2 is a residue).
  ExpectInvalid(ValidateCustomGroup(p, POffset(p, -2)), "order-q subgroup");
  EXPECT_OK(ValidateCustomGroup(p, Bytes{0x09}));  // 9 = 3^2, a square
}

// ---- finite-field public values ----

TEST(DhGroupTest, FfdhPublicRangeAndLength) {
  const FfdhParams params = Ffdhe2048();
  const std::size_t len = params.p.size();
  Bytes two(len, 0);
  two.back() = 2;
  EXPECT_OK(ValidateFfdhPublic(params, two));
  EXPECT_OK(ValidateFfdhPublic(params, POffset(params.p, -2)));

  ExpectInvalid(ValidateFfdhPublic(params, Bytes(len, 0)), "0 or 1");
  Bytes one(len, 0);
  one.back() = 1;
  ExpectInvalid(ValidateFfdhPublic(params, one), "0 or 1");
  ExpectInvalid(ValidateFfdhPublic(params, POffset(params.p, -1)), "p - 1 or larger");
  ExpectInvalid(ValidateFfdhPublic(params, params.p), "p - 1 or larger");
  ExpectInvalid(ValidateFfdhPublic(params, POffset(params.p, 1)), "p - 1 or larger");
  ExpectInvalid(ValidateFfdhPublic(params, Bytes(len, 0xff)), "p - 1 or larger");

  // Fixed length: the minimal encoding of a small value, one byte short, one byte long.
  ExpectInvalid(ValidateFfdhPublic(params, Bytes{0x02}), "exactly 256");
  Bytes short_y(params.p.begin() + 1, params.p.end());
  ExpectInvalid(ValidateFfdhPublic(params, short_y), "exactly 256");
  Bytes long_y = two;
  long_y.insert(long_y.begin(), 0x00);
  ExpectInvalid(ValidateFfdhPublic(params, long_y), "exactly 256");
  ExpectInvalid(ValidateFfdhPublic(params, Bytes{}), "exactly 256");
  ExpectInvalid(ValidateFfdhPublic(FfdhParams{}, two), "no p");
}

TEST(DhGroupTest, FfdhPublicFromOpenSslKeyIsAccepted) {
  for (const char* group : {"ffdhe2048", "ffdhe3072"}) {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr);
    ASSERT_NE(ctx, nullptr);
    ASSERT_EQ(EVP_PKEY_keygen_init(ctx), 1);
    ASSERT_EQ(EVP_PKEY_CTX_set_group_name(ctx, group), 1);
    EVP_PKEY* key = nullptr;
    ASSERT_EQ(EVP_PKEY_generate(ctx, &key), 1) << group;
    EVP_PKEY_CTX_free(ctx);
    BIGNUM* pub = nullptr;
    ASSERT_EQ(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PUB_KEY, &pub), 1);
    auto params = NamedFfdhParams(std::string_view(group) == "ffdhe2048" ? DhGroupKind::kFfdhe2048
                                                                          : DhGroupKind::kFfdhe3072);
    ASSERT_OK(params);
    const Bytes y = ToFixed(pub, params->p.size());
    EXPECT_TRUE(ValidateFfdhPublic(*params, y).ok()) << group;
    BN_free(pub);
    EVP_PKEY_free(key);
  }
}

// ---- P-256 public points ----

Bytes Generator() {
  Bytes point{0x04};
  for (const char* hex : {kP256Gx, kP256Gy}) {
    Bytes coord = Hex(hex);
    point.insert(point.end(), coord.begin(), coord.end());
  }
  return point;
}

TEST(DhGroupTest, P256ValidPointsAccepted) {
  EXPECT_OK(ValidateP256Public(Generator()));
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_NE(key, nullptr);
  Bytes pub(65);
  std::size_t len = 0;
  ASSERT_EQ(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pub.data(), pub.size(), &len), 1);
  EXPECT_EQ(len, 65u);
  EXPECT_OK(ValidateP256Public(pub));
  EVP_PKEY_free(key);
}

TEST(DhGroupTest, P256BadPointsRejected) {
  Bytes off_curve = Generator();
  off_curve.back() ^= 0x01;
  ExpectInvalid(ValidateP256Public(off_curve), "not on the curve");

  Bytes zero(65, 0);
  zero[0] = 0x04;
  ExpectInvalid(ValidateP256Public(zero), "not on the curve");

  Bytes x_is_p = Generator();
  Bytes field = Hex(kP256Field);
  std::copy(field.begin(), field.end(), x_is_p.begin() + 1);
  ExpectInvalid(ValidateP256Public(x_is_p), "not below the field prime");

  // Compressed form of G (y is odd, so 03 || X).
  Bytes compressed{0x03};
  Bytes gx = Hex(kP256Gx);
  compressed.insert(compressed.end(), gx.begin(), gx.end());
  ExpectInvalid(ValidateP256Public(compressed), "expected 65");

  Bytes hybrid = Generator();
  hybrid[0] = 0x07;  // SEC1 hybrid form carries the same coordinates; not accepted
  ExpectInvalid(ValidateP256Public(hybrid), "uncompressed");

  ExpectInvalid(ValidateP256Public(Bytes{0x00}), "point at infinity");
  ExpectInvalid(ValidateP256Public(Bytes{}), "expected 65");
  Bytes truncated = Generator();
  truncated.pop_back();
  ExpectInvalid(ValidateP256Public(truncated), "expected 65");
}

}  // namespace
}  // namespace simkms::kms
