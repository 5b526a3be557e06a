#include "softcrypto/shamir.h"
#include "tests/support/status_testing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace simkms::kms::shamir {
namespace {

using ::testing::HasSubstr;

SecretBytes RandomSecret(std::size_t size) {
  SecretBytes s(size);
  EXPECT_EQ(RAND_bytes(s.mutable_data(), static_cast<int>(size)), 1);
  return s;
}

Bytes Sha256(ByteView data) {
  Bytes out(32);
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr), 1);
  return out;
}

std::vector<std::string> Pick(const std::vector<std::string>& all, unsigned mask) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (mask & (1u << i)) out.push_back(all[i]);
  }
  return out;
}

// Reference multiply: carry-less product, then reduction by polynomial long
// division, a different algorithm from the shift-and-add under test.
uint8_t SlowMul(uint8_t a, uint8_t b) {
  unsigned r = 0;
  for (int i = 0; i < 8; ++i) {
    if ((b >> i) & 1) r ^= static_cast<unsigned>(a) << i;
  }
  for (int bit = 14; bit >= 8; --bit) {
    if ((r >> bit) & 1) r ^= 0x11bu << (bit - 8);
  }
  return static_cast<uint8_t>(r);
}

// ---- GF(2^8) ----

TEST(ShamirGf256Test, MulMatchesSlowReferenceForAllPairs) {
  for (unsigned a = 0; a < 256; ++a) {
    for (unsigned b = 0; b < 256; ++b) {
      ASSERT_EQ(gf256::Mul(static_cast<uint8_t>(a), static_cast<uint8_t>(b)),
                SlowMul(static_cast<uint8_t>(a), static_cast<uint8_t>(b)))
          << a << " * " << b;
    }
  }
}

TEST(ShamirGf256Test, Fips197Example) {
  // FIPS-197 section 4.2: {57} * {83} = {c1}, {57} * {13} = {fe}.
  EXPECT_EQ(gf256::Mul(0x57, 0x83), 0xc1);
  EXPECT_EQ(gf256::Mul(0x57, 0x13), 0xfe);
}

TEST(ShamirGf256Test, EveryNonZeroElementHasItsInverse) {
  EXPECT_EQ(gf256::Inv(0), 0);
  for (unsigned a = 1; a < 256; ++a) {
    const uint8_t inv = gf256::Inv(static_cast<uint8_t>(a));
    EXPECT_EQ(gf256::Mul(static_cast<uint8_t>(a), inv), 1) << a;
    EXPECT_EQ(gf256::Inv(inv), a) << a;
  }
}

TEST(ShamirGf256Test, FieldAxioms) {
  for (unsigned a = 0; a < 256; ++a) {
    const auto x = static_cast<uint8_t>(a);
    EXPECT_EQ(gf256::Mul(x, 1), x);
    EXPECT_EQ(gf256::Mul(x, 0), 0);
    for (unsigned b = 0; b < 256; ++b) {
      const auto y = static_cast<uint8_t>(b);
      ASSERT_EQ(gf256::Mul(x, y), gf256::Mul(y, x));
    }
  }
  // Associativity and distributivity on a sample grid (all triples would be 2^24).
  for (unsigned a = 0; a < 256; a += 7) {
    for (unsigned b = 1; b < 256; b += 11) {
      for (unsigned c = 3; c < 256; c += 13) {
        const auto x = static_cast<uint8_t>(a), y = static_cast<uint8_t>(b), z = static_cast<uint8_t>(c);
        ASSERT_EQ(gf256::Mul(gf256::Mul(x, y), z), gf256::Mul(x, gf256::Mul(y, z)));
        ASSERT_EQ(gf256::Mul(x, static_cast<uint8_t>(y ^ z)), gf256::Mul(x, y) ^ gf256::Mul(x, z));
      }
    }
  }
}

// ---- Split / Combine round trips ----

TEST(ShamirTest, RoundTripEverySubsetUpToFiveShares) {
  for (int n = 2; n <= 5; ++n) {
    for (int m = 2; m <= n; ++m) {
      const SecretBytes secret = RandomSecret(32);
      auto set = Split(secret, m, n);
      ASSERT_OK(set);
      ASSERT_EQ(set->shares.size(), static_cast<std::size_t>(n));
      EXPECT_EQ(set->threshold, m);
      for (unsigned mask = 1; mask < (1u << n); ++mask) {
        const int count = __builtin_popcount(mask);
        std::vector<std::string> picked = Pick(set->shares, mask);
        auto combined = Combine(picked);
        if (count < m) {
          ASSERT_FALSE(combined.ok());
          EXPECT_EQ(combined.status().code(), StatusCode::kFailedPrecondition);
          continue;
        }
        // Exactly M shares and every superset (the extra shares are cross-checked).
        ASSERT_TRUE(combined.ok()) << m << "of" << n << " mask " << mask << ": " << combined.status().ToString();
        EXPECT_TRUE(combined->Equals(secret)) << m << "of" << n << " mask " << mask;
        std::reverse(picked.begin(), picked.end());
        auto reversed = Combine(picked);
        ASSERT_OK(reversed);
        EXPECT_TRUE(reversed->Equals(secret));
      }
    }
  }
}

TEST(ShamirTest, RoundTripLargerSets) {
  const std::pair<int, int> cases[] = {{2, 16}, {8, 16}, {16, 16}, {5, 10}, {3, 7}};
  for (auto [m, n] : cases) {
    const SecretBytes secret = RandomSecret(32);
    auto set = Split(secret, m, n);
    ASSERT_OK(set);
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<std::string> shares = set->shares;
      // A pseudo-random M-subset in pseudo-random order.
      for (std::size_t i = shares.size() - 1; i > 0; --i) {
        uint8_t r = 0;
        ASSERT_EQ(RAND_bytes(&r, 1), 1);
        std::swap(shares[i], shares[r % (i + 1)]);
      }
      shares.resize(static_cast<std::size_t>(m));
      auto combined = Combine(shares);
      ASSERT_OK(combined);
      EXPECT_TRUE(combined->Equals(secret)) << m << "of" << n;
    }
    auto all = Combine(set->shares);
    ASSERT_OK(all);
    EXPECT_TRUE(all->Equals(secret));
  }
}

TEST(ShamirTest, RoundTripOtherSecretSizes) {
  for (std::size_t size : {1u, 2u, 15u, 16u, 33u, 64u}) {
    const SecretBytes secret = RandomSecret(size);
    auto set = Split(secret, 2, 3);
    ASSERT_OK(set);
    auto combined = Combine({set->shares[2], set->shares[0]});
    ASSERT_TRUE(combined.ok()) << size << ": " << combined.status().ToString();
    EXPECT_TRUE(combined->Equals(secret)) << size;
  }
}

TEST(ShamirTest, SplitRejectsBadParameters) {
  const SecretBytes secret = RandomSecret(32);
  EXPECT_EQ(Split(secret, 1, 3).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Split(secret, 4, 3).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Split(secret, 2, 17).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Split(secret, 17, 17).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Split(SecretBytes(), 2, 3).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Split(RandomSecret(65), 2, 3).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Split(secret, 2, 3, ByteView()).status().code(), StatusCode::kInvalidArgument);
}

TEST(ShamirTest, ShareTextHasDocumentedLayout) {
  const std::string ceremony = "ceremony 2024-001";
  auto set = Split(RandomSecret(32), 3, 5, AsBytes(ceremony));
  ASSERT_OK(set);
  // Set id = SHA-256("SIMKMS-SHARE-SET" || ceremony id)[0..4].
  const std::string set_input = "SIMKMS-SHARE-SET" + ceremony;
  Bytes digest = Sha256(AsBytes(set_input));
  std::string expected_set_id = ToHex(ByteView(digest.data(), 4));
  std::transform(expected_set_id.begin(), expected_set_id.end(), expected_set_id.begin(), ::toupper);
  EXPECT_EQ(set->set_id_hex, expected_set_id);
  // SIMKMS-SHARE-1-3OF5-<x>-<set id>-<16 groups of 4 upper-case hex>-<6 upper-case hex>
  for (std::size_t i = 0; i < set->shares.size(); ++i) {
    const std::string& text = set->shares[i];
    const std::string prefix = "SIMKMS-SHARE-1-3OF5-" + std::to_string(i + 1) + "-" + expected_set_id + "-";
    ASSERT_EQ(text.substr(0, prefix.size()), prefix) << text;
    const std::string rest = text.substr(prefix.size());
    ASSERT_EQ(rest.size(), 16u * 5 + 6) << text;
    for (std::size_t j = 0; j < rest.size(); ++j) {
      const bool dash = j < 16 * 5 && j % 5 == 4;
      if (dash) {
        EXPECT_EQ(rest[j], '-') << text;
      } else {
        EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(rest[j])) || (rest[j] >= 'A' && rest[j] <= 'F')) << text;
      }
    }
  }
  // Same ceremony id, same set id; the shares themselves are fresh randomness.
  auto again = Split(RandomSecret(32), 3, 5, AsBytes(ceremony));
  ASSERT_OK(again);
  EXPECT_EQ(again->set_id_hex, set->set_id_hex);
  EXPECT_NE(again->shares[0], set->shares[0]);
}

TEST(ShamirTest, SameSecretSplitTwiceGivesUnrelatedShares) {
  const SecretBytes secret = RandomSecret(32);
  auto a = Split(secret, 2, 2);
  auto b = Split(secret, 2, 2);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->set_id_hex, b->set_id_hex);
  EXPECT_NE(a->shares[0].substr(31), b->shares[0].substr(31));
}

// Shares computed by an independent Python implementation (docs/shamir.md, worked
// example): secret 00 01 .. 1F, a1 = SHA-256("coefficient 1"), a2 = SHA-256("coefficient 2"),
// ceremony id "worked-example".
const std::vector<std::string> kWorkedExample = {
    "SIMKMS-SHARE-1-3OF5-1-809A648C-85F5-B9BE-6F1F-DC4B-AF21-8597-6E89-6E44-85BF-B93F-EE55-DC14-6A0B-3A1B-2010-F488-3619AE",
    "SIMKMS-SHARE-1-3OF5-2-809A648C-C70C-56A0-0902-0354-C9DB-C558-DB26-8370-E1A7-CF91-8B25-4491-2162-157E-F231-FF18-F80D0F",
    "SIMKMS-SHARE-1-3OF5-3-809A648C-42F8-ED1D-6218-D918-6EF3-4AC4-B9A2-E33B-7409-64BD-7165-8E92-5370-357E-CE3C-158F-7EF096",
    "SIMKMS-SHARE-1-3OF5-4-809A648C-E0CE-4E7B-5FC7-92A0-F788-8A76-F5BB-2078-C48F-C549-EA83-EB36-3388-235E-B59D-7FD9-A41E1A",
    "SIMKMS-SHARE-1-3OF5-5-809A648C-653A-F5C6-34DD-48EC-50A0-05EA-973F-4033-5121-6E65-10C3-2135-419A-035E-8990-954E-42C904",
};

TEST(ShamirTest, WorkedExampleFromIndependentImplementation) {
  Bytes expected(32);
  for (int i = 0; i < 32; ++i) expected[i] = static_cast<uint8_t>(i);
  for (unsigned mask = 1; mask < 32; ++mask) {
    if (__builtin_popcount(mask) < 3) continue;
    auto combined = Combine(Pick(kWorkedExample, mask));
    ASSERT_TRUE(combined.ok()) << mask << ": " << combined.status().ToString();
    EXPECT_EQ(ToHex(combined->reveal()), ToHex(expected)) << mask;
  }
  // FormatShare reproduces the printed text from the parsed fields.
  for (const std::string& text : kWorkedExample) {
    auto parsed = ParseShare(text);
    ASSERT_OK(parsed);
    EXPECT_EQ(parsed->info.threshold, 3);
    EXPECT_EQ(parsed->info.share_count, 5);
    EXPECT_EQ(parsed->info.set_id_hex, "809A648C");
    EXPECT_EQ(parsed->info.secret_size, 32u);
    auto formatted = FormatShare(parsed->info, parsed->y);
    ASSERT_OK(formatted);
    EXPECT_EQ(*formatted, text);
  }
}

// ---- what custodians type ----

TEST(ShamirTest, ParseToleratesWhitespaceCaseAndLookalikes) {
  std::string messy = kWorkedExample[1];
  std::transform(messy.begin(), messy.end(), messy.begin(), ::tolower);
  // Blanks around and inside fields, a line break, a doubled dash, O for 0.
  messy.replace(messy.find("-c70c-"), 6, " - c7 O c\n--");
  messy.insert(0, "  \t");
  messy.append(" \r\n");
  auto parsed = ParseShare(messy);
  ASSERT_TRUE(parsed.ok()) << messy << ": " << parsed.status().ToString();
  EXPECT_EQ(parsed->info.index, 2);
  auto combined = Combine({messy, kWorkedExample[0], kWorkedExample[4]});
  ASSERT_OK(combined);
  EXPECT_EQ(combined->reveal()[31], 0x1f);
}

TEST(ShamirTest, AnyChangedHexDigitIsCaughtAndNamesTheShare) {
  const std::string& good = kWorkedExample[1];
  const std::size_t body_start = std::string("SIMKMS-SHARE-1-3OF5-2-809A648C-").size();
  int checked = 0;
  for (std::size_t pos = body_start; pos < good.size(); ++pos) {
    if (good[pos] == '-') continue;
    std::string typo = good;
    typo[pos] = typo[pos] == '7' ? '1' : '7';  // the classic 1/7 confusion
    auto combined = Combine({kWorkedExample[0], typo, kWorkedExample[2]});
    ASSERT_FALSE(combined.ok()) << pos;
    EXPECT_EQ(combined.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(combined.status().message(), HasSubstr("share 2 of 3")) << pos;
    EXPECT_THAT(combined.status().message(), HasSubstr("check value")) << pos;
    ++checked;
  }
  EXPECT_EQ(checked, 64 + 6);
  // A typo in the set id is caught the same way.
  std::string set_typo = good;
  set_typo[body_start - 2] = 'D';
  auto combined = Combine({kWorkedExample[0], kWorkedExample[2], set_typo});
  ASSERT_FALSE(combined.ok());
  EXPECT_THAT(combined.status().message(), HasSubstr("share 3 of 3"));
}

TEST(ShamirTest, DroppedDigitPointsAtTheGroup) {
  std::string typo = kWorkedExample[0];
  typo.erase(typo.find("-6E89-") + 2, 1);  // digit group 7 becomes "689"
  auto parsed = ParseShare(typo);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("digit group 7"));
  auto combined = Combine({kWorkedExample[2], kWorkedExample[3], typo});
  ASSERT_FALSE(combined.ok());
  EXPECT_THAT(combined.status().message(), HasSubstr("share 3 of 3"));
}

TEST(ShamirTest, MalformedSharesAreInvalidArgument) {
  const std::string g = kWorkedExample[0];
  const std::string body = g.substr(std::string("SIMKMS-SHARE-1-3OF5-1-809A648C-").size());
  const std::vector<std::string> bad = {
      "",
      "hello",
      "SIMKMS-SHARE",
      "SIMKMS-SHARX-1-3OF5-1-809A648C-" + body,
      "XIMKMS-SHARE-1-3OF5-1-809A648C-" + body,
      "SIMKMS-SHARE-2-3OF5-1-809A648C-" + body,
      "SIMKMS-SHARE-X-3OF5-1-809A648C-" + body,
      "SIMKMS-SHARE-1-3FROM5-1-809A648C-" + body,
      "SIMKMS-SHARE-1-1OF5-1-809A648C-" + body,
      "SIMKMS-SHARE-1-3OF2-1-809A648C-" + body,
      "SIMKMS-SHARE-1-3OF17-1-809A648C-" + body,
      "SIMKMS-SHARE-1-3OF5-0-809A648C-" + body,
      "SIMKMS-SHARE-1-3OF5-6-809A648C-" + body,
      "SIMKMS-SHARE-1-3OF5-1-809A648-" + body,
      "SIMKMS-SHARE-1-3OF5-1-809A648CC-" + body,
      "SIMKMS-SHARE-1-3OF5-1-809A64XC-" + body,
      g.substr(0, g.size() - 1),            // check value one digit short
      g + "0",                              // check value one digit long
      g.substr(0, g.size() - 7),            // check value missing
      g.substr(0, 40) + "G" + g.substr(41),  // not a hex digit
      g + "\xc3\xa9",                       // non-ASCII
      std::string(2000, 'A'),
  };
  for (const std::string& text : bad) {
    auto parsed = ParseShare(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << text;
    auto combined = Combine({text, kWorkedExample[1], kWorkedExample[2]});
    ASSERT_FALSE(combined.ok()) << text;
    EXPECT_THAT(combined.status().message(), HasSubstr("share 1 of 3")) << text;
  }
}

// ---- refusing wrong combinations ----

TEST(ShamirTest, TooFewSharesIsFailedPrecondition) {
  auto set = Split(RandomSecret(32), 3, 5);
  ASSERT_OK(set);
  auto combined = Combine({set->shares[4], set->shares[1]});
  ASSERT_FALSE(combined.ok());
  EXPECT_EQ(combined.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(combined.status().message(), HasSubstr("need 3 shares, got 2"));
  EXPECT_EQ(Combine({}).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Combine({set->shares[0]}).status().code(), StatusCode::kFailedPrecondition);
}

TEST(ShamirTest, DuplicateShareIsRefused) {
  auto set = Split(RandomSecret(32), 2, 3);
  ASSERT_OK(set);
  auto combined = Combine({set->shares[1], set->shares[1]});
  ASSERT_FALSE(combined.ok());
  EXPECT_EQ(combined.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(combined.status().message(), HasSubstr("repeats index 2"));
  // The same share typed differently is still the same share.
  std::string lower = set->shares[1];
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  auto again = Combine({set->shares[0], set->shares[1], lower});
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.status().message(), HasSubstr("share 3 of 3 repeats index 2"));
}

TEST(ShamirTest, SharesOfDifferentSetsAreRefused) {
  const SecretBytes secret = RandomSecret(32);
  auto a = Split(secret, 2, 3);
  auto b = Split(secret, 2, 3);
  ASSERT_TRUE(a.ok() && b.ok());
  auto combined = Combine({a->shares[0], b->shares[1]});
  ASSERT_FALSE(combined.ok());
  EXPECT_EQ(combined.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(combined.status().message(), HasSubstr("different ceremonies"));
  EXPECT_THAT(combined.status().message(), HasSubstr(b->set_id_hex));
}

TEST(ShamirTest, SameSetIdWithOtherThresholdIsRefused) {
  const std::string ceremony = "one ceremony id reused";
  auto a = Split(RandomSecret(32), 2, 3, AsBytes(ceremony));
  auto b = Split(RandomSecret(32), 3, 3, AsBytes(ceremony));
  ASSERT_TRUE(a.ok() && b.ok());
  auto combined = Combine({a->shares[0], b->shares[1], b->shares[2]});
  ASSERT_FALSE(combined.ok());
  EXPECT_EQ(combined.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(combined.status().message(), HasSubstr("share 2 of 3"));
}

// ---- what the scheme can and cannot detect ----

// M-1 shares are consistent with every secret: for any target, there is a share
// (with a valid check value) that completes them to it. So M-1 custodians learn
// nothing, and a forged M-th share yields a different secret without any error:
// this is why the restore verifies the KCV of the combined key.
TEST(ShamirTest, FewerThanThresholdSharesAreConsistentWithAnySecret) {
  const SecretBytes secret = RandomSecret(32);
  auto set = Split(secret, 3, 5);
  ASSERT_OK(set);
  auto s1 = ParseShare(set->shares[0]);
  auto s4 = ParseShare(set->shares[3]);
  ASSERT_TRUE(s1.ok() && s4.ok());
  const SecretBytes target = RandomSecret(32);
  // The degree-2 polynomial through (0, target), (1, y1), (4, y4), evaluated at x = 2.
  const uint8_t xs[3] = {0, 1, 4};
  const uint8_t forged_x = 2;
  SecretBytes forged(32);
  for (std::size_t i = 0; i < 32; ++i) {
    const uint8_t ys[3] = {target.reveal()[i], s1->y.reveal()[i], s4->y.reveal()[i]};
    uint8_t acc = 0;
    for (int j = 0; j < 3; ++j) {
      uint8_t basis = 1;
      for (int k = 0; k < 3; ++k) {
        if (k == j) continue;
        basis = gf256::Mul(basis, gf256::Mul(forged_x ^ xs[k], gf256::Inv(xs[j] ^ xs[k])));
      }
      acc ^= gf256::Mul(ys[j], basis);
    }
    forged.mutable_data()[i] = acc;
  }
  ShareInfo info = s1->info;
  info.index = forged_x;
  auto forged_text = FormatShare(info, forged);
  ASSERT_OK(forged_text);
  auto combined = Combine({set->shares[0], set->shares[3], *forged_text});
  ASSERT_OK(combined);
  EXPECT_TRUE(combined->Equals(target));
  EXPECT_FALSE(combined->Equals(secret));
}

TEST(ShamirTest, RandomForgedShareGivesAnotherSecretWithoutError) {
  const SecretBytes secret = RandomSecret(32);
  auto set = Split(secret, 2, 3);
  ASSERT_OK(set);
  auto s1 = ParseShare(set->shares[0]);
  ASSERT_OK(s1);
  ShareInfo info = s1->info;
  info.index = 3;
  auto forged = FormatShare(info, RandomSecret(32));
  ASSERT_OK(forged);
  auto combined = Combine({set->shares[0], *forged});
  ASSERT_OK(combined);
  EXPECT_FALSE(combined->Equals(secret));
}

TEST(ShamirTest, SpareShareExposesAForgedOne) {
  const SecretBytes secret = RandomSecret(32);
  auto set = Split(secret, 2, 3);
  ASSERT_OK(set);
  auto s3 = ParseShare(set->shares[2]);
  ASSERT_OK(s3);
  SecretBytes altered = s3->y;
  altered.mutable_data()[5] ^= 0x01;
  auto forged = FormatShare(s3->info, altered);
  ASSERT_OK(forged);
  auto combined = Combine({set->shares[0], set->shares[1], *forged});
  ASSERT_FALSE(combined.ok());
  EXPECT_EQ(combined.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(combined.status().message(), HasSubstr("inconsistent"));
  // Two shares claiming one index with different content.
  auto clash = Combine({set->shares[2], *forged});
  ASSERT_FALSE(clash.ok());
  EXPECT_THAT(clash.status().message(), HasSubstr("both claim index 3"));
}

TEST(ShamirTest, ErrorsNeverCarryShareDigits) {
  auto set = Split(RandomSecret(32), 3, 5);
  ASSERT_OK(set);
  std::string typo = set->shares[0];
  typo[40] = typo[40] == 'A' ? 'B' : 'A';
  const std::vector<std::vector<std::string>> attempts = {
      {typo, set->shares[1], set->shares[2]},
      {set->shares[1], set->shares[1], set->shares[2]},
      {set->shares[1], set->shares[2]},
  };
  for (const auto& attempt : attempts) {
    auto combined = Combine(attempt);
    ASSERT_FALSE(combined.ok());
    for (const std::string& share : set->shares) {
      const std::string digits = share.substr(31, 19);  // first four digit groups
      EXPECT_EQ(combined.status().message().find(digits), std::string::npos) << combined.status().message();
    }
  }
}

}  // namespace
}  // namespace simkms::kms::shamir
