#include "softcrypto/milenage.h"

#include <array>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "base/bytes.h"
#include "softcrypto/software_aes.h"
#include "tests/softcrypto/milenage_vectors.h"
#include "tests/support/osmo_auc_gen.h"
#include "tests/support/status_testing.h"

namespace simkms::testing {
// Keeps test names and ctest entries readable ("TestSet3", not a byte dump).
void PrintTo(const MilenageTestSet& set, std::ostream* os) { *os << set.name; }
}  // namespace simkms::testing

namespace simkms::kms {
namespace {

using ::simkms::testing::kMilenageTestSets;
using ::simkms::testing::MilenageTestSet;

template <std::size_t N>
std::array<uint8_t, N> Hex(std::string_view hex) {
  StatusOr<Bytes> bytes = FromHex(hex);
  EXPECT_TRUE(bytes.ok()) << hex;
  std::array<uint8_t, N> out{};
  if (!bytes.ok() || bytes->size() != N) {
    ADD_FAILURE() << "expected " << N << " bytes: " << hex;
    return out;
  }
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

template <std::size_t N>
std::string H(const std::array<uint8_t, N>& a) {
  return ToHex(ByteView(a.data(), a.size()));
}

std::unique_ptr<SoftwareAes128> MakeCipher(const std::array<uint8_t, 16>& key) {
  StatusOr<std::unique_ptr<SoftwareAes128>> cipher =
      SoftwareAes128::Create(SecretBytes::Copy(ByteView(key.data(), key.size())));
  EXPECT_OK(cipher);
  return cipher.ok() ? std::move(cipher).value() : nullptr;
}

// Forwards to a real cipher, counts calls, and fails the Nth call if asked.
class CountingCipher : public BlockCipher {
 public:
  explicit CountingCipher(BlockCipher& inner, int fail_on_call = 0)
      : inner_(inner), fail_on_call_(fail_on_call) {}
  Status EncryptBlock(const Block& in, Block& out) override {
    ++calls_;
    if (calls_ == fail_on_call_) return UnavailableError("token gone (call " + std::to_string(calls_) + ")");
    return inner_.EncryptBlock(in, out);
  }
  int calls() const { return calls_; }

 private:
  BlockCipher& inner_;
  int fail_on_call_;
  int calls_ = 0;
};

// ---------------------------------------------------------------------------
// Known-answer tests: TS 35.207/35.208 and TS 55.205.

class MilenageKnownAnswerTest : public ::testing::TestWithParam<MilenageTestSet> {};

TEST_P(MilenageKnownAnswerTest, OpcFromOp) {
  const MilenageTestSet& t = GetParam();
  auto k = MakeCipher(Hex<16>(t.k));
  ASSERT_NE(k, nullptr);
  StatusOr<Block> opc = ComputeOpc(*k, Hex<16>(t.op));
  ASSERT_OK(opc);
  EXPECT_EQ(H(*opc), t.opc);
}

TEST_P(MilenageKnownAnswerTest, AllFunctions) {
  const MilenageTestSet& t = GetParam();
  auto k = MakeCipher(Hex<16>(t.k));
  ASSERT_NE(k, nullptr);
  StatusOr<MilenageOutput> o =
      ComputeMilenage(*k, Hex<16>(t.opc), Hex<16>(t.rand), Hex<6>(t.sqn), Hex<2>(t.amf));
  ASSERT_OK(o);
  EXPECT_EQ(H(o->mac_a), t.f1);
  EXPECT_EQ(H(o->mac_s), t.f1_star);
  EXPECT_EQ(H(o->res), t.f2);
  EXPECT_EQ(H(o->ck), t.f3);
  EXPECT_EQ(H(o->ik), t.f4);
  EXPECT_EQ(H(o->ak), t.f5);
  EXPECT_EQ(H(o->ak_star), t.f5_star);
}

TEST_P(MilenageKnownAnswerTest, F2AloneIsTheTestSetsRes) {
  const MilenageTestSet& t = GetParam();
  auto k = MakeCipher(Hex<16>(t.k));
  ASSERT_NE(k, nullptr);
  StatusOr<Res> res = ComputeF2(*k, Hex<16>(t.opc), Hex<16>(t.rand));
  ASSERT_OK(res);
  EXPECT_EQ(H(*res), t.f2);
}

TEST_P(MilenageKnownAnswerTest, AuthVectorAndGsmConversion) {
  const MilenageTestSet& t = GetParam();
  auto k = MakeCipher(Hex<16>(t.k));
  ASSERT_NE(k, nullptr);
  const Sqn sqn = Hex<6>(t.sqn);
  StatusOr<AuthVector> v =
      GenerateAuthVector(*k, Hex<16>(t.opc), Hex<16>(t.rand), sqn, Hex<2>(t.amf));
  ASSERT_OK(v);
  EXPECT_EQ(H(v->rand), t.rand);
  EXPECT_EQ(H(v->xres), t.f2);
  EXPECT_EQ(H(v->ck), t.f3);
  EXPECT_EQ(H(v->ik), t.f4);
  const Sqn ak = Hex<6>(t.f5);
  Sqn concealed{};
  for (std::size_t i = 0; i < 6; ++i) concealed[i] = sqn[i] ^ ak[i];
  EXPECT_EQ(H(v->autn), H(concealed) + t.amf + t.f1);
  EXPECT_EQ(H(v->sres), t.sres);
  EXPECT_EQ(H(v->kc), t.kc);
  EXPECT_EQ(H(ConvertResToSres(Hex<8>(t.f2))), t.sres);
  EXPECT_EQ(H(ConvertToKc(Hex<16>(t.f3), Hex<16>(t.f4))), t.kc);
}

TEST_P(MilenageKnownAnswerTest, CardAcceptsAutnAndRecoversSqn) {
  const MilenageTestSet& t = GetParam();
  auto k = MakeCipher(Hex<16>(t.k));
  ASSERT_NE(k, nullptr);
  const Block opc = Hex<16>(t.opc);
  const Block rand = Hex<16>(t.rand);
  StatusOr<AuthVector> v = GenerateAuthVector(*k, opc, rand, Hex<6>(t.sqn), Hex<2>(t.amf));
  ASSERT_OK(v);
  StatusOr<AutnCheckResult> r = CheckAutn(*k, opc, rand, v->autn);
  ASSERT_OK(r);
  EXPECT_EQ(H(r->sqn), t.sqn);
  EXPECT_EQ(H(r->amf), t.amf);
  EXPECT_EQ(H(r->res), t.f2);
  EXPECT_EQ(H(r->ck), t.f3);
  EXPECT_EQ(H(r->ik), t.f4);
}

TEST_P(MilenageKnownAnswerTest, AutsRoundTripUsesF5StarAndDummyAmf) {
  const MilenageTestSet& t = GetParam();
  auto k = MakeCipher(Hex<16>(t.k));
  ASSERT_NE(k, nullptr);
  const Block opc = Hex<16>(t.opc);
  const Block rand = Hex<16>(t.rand);
  const Sqn sqn_ms = Hex<6>(t.sqn);
  StatusOr<Auts> auts = BuildAuts(*k, opc, rand, sqn_ms);
  ASSERT_OK(auts);
  // The concealment is f5*, independent of AMF: check it against the table.
  const Sqn ak_star = Hex<6>(t.f5_star);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ((*auts)[i], sqn_ms[i] ^ ak_star[i]) << i;
  // MAC-S is f1* with AMF 0x0000 (TS 33.102 6.3.3), not with the set's AMF.
  StatusOr<MilenageOutput> dummy_amf = ComputeMilenage(*k, opc, rand, sqn_ms, Amf{0, 0});
  ASSERT_OK(dummy_amf);
  EXPECT_EQ(H(*auts).substr(12), H(dummy_amf->mac_s));

  StatusOr<Sqn> recovered = VerifyAuts(*k, opc, rand, *auts);
  ASSERT_OK(recovered);
  EXPECT_EQ(*recovered, sqn_ms);
}

INSTANTIATE_TEST_SUITE_P(Ts35207, MilenageKnownAnswerTest, ::testing::ValuesIn(kMilenageTestSets),
                         [](const ::testing::TestParamInfo<MilenageTestSet>& info) {
                           return std::string(info.param.name);
                         });

// ---------------------------------------------------------------------------
// Block counts and the chip/AuC checks.

class MilenageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const MilenageTestSet& t = kMilenageTestSets[0];
    aes_ = MakeCipher(Hex<16>(t.k));
    ASSERT_NE(aes_, nullptr);
    op_ = Hex<16>(t.op);
    opc_ = Hex<16>(t.opc);
    rand_ = Hex<16>(t.rand);
    sqn_ = Hex<6>(t.sqn);
    amf_ = Hex<2>(t.amf);
  }
  std::unique_ptr<SoftwareAes128> aes_;
  Block op_{}, opc_{}, rand_{};
  Sqn sqn_{};
  Amf amf_{};
};

TEST_F(MilenageTest, BlockEncryptionCounts) {
  {
    CountingCipher c(*aes_);
    ASSERT_OK(ComputeOpc(c, op_));
    EXPECT_EQ(c.calls(), 1);
  }
  {
    CountingCipher c(*aes_);
    ASSERT_OK(ComputeMilenage(c, opc_, rand_, sqn_, amf_));
    EXPECT_EQ(c.calls(), 6);
  }
  {
    CountingCipher c(*aes_);
    ASSERT_OK(GenerateAuthVector(c, opc_, rand_, sqn_, amf_));
    EXPECT_EQ(c.calls(), 6);
  }
  {
    CountingCipher c(*aes_);
    ASSERT_OK(ComputeF2(c, opc_, rand_));
    EXPECT_EQ(c.calls(), 2);  // TEMP, OUT2
  }
  StatusOr<Auts> auts = Auts{};
  {
    CountingCipher c(*aes_);
    auts = BuildAuts(c, opc_, rand_, sqn_);
    ASSERT_OK(auts);
    EXPECT_EQ(c.calls(), 3);
  }
  {
    CountingCipher c(*aes_);
    ASSERT_OK(VerifyAuts(c, opc_, rand_, *auts));
    EXPECT_EQ(c.calls(), 3);
  }
  {
    StatusOr<AuthVector> v = GenerateAuthVector(*aes_, opc_, rand_, sqn_, amf_);
    ASSERT_OK(v);
    CountingCipher c(*aes_);
    ASSERT_OK(CheckAutn(c, opc_, rand_, v->autn));
    EXPECT_EQ(c.calls(), 5);  // TEMP, OUT2, OUT1, OUT3, OUT4
  }
}

// Forwards to a real cipher block by block and counts the EncryptBlocks calls
// (one C_EncryptUpdate each in the token) and their blocks; fails the Nth call if asked.
class RoundCountingCipher : public BlockCipher {
 public:
  explicit RoundCountingCipher(BlockCipher& inner, int fail_on_call = 0)
      : inner_(inner), fail_on_call_(fail_on_call) {}
  Status EncryptBlock(const Block& in, Block& out) override { return EncryptBlocks(std::span(&in, 1), std::span(&out, 1)); }
  int calls() const { return calls_; }
  int blocks() const { return blocks_; }

 protected:
  Status DoEncryptBlocks(std::span<const Block> in, std::span<Block> out) override {
    ++calls_;
    blocks_ += static_cast<int>(in.size());
    if (calls_ == fail_on_call_) return UnavailableError("token gone (call " + std::to_string(calls_) + ")");
    return inner_.EncryptBlocks(in, out);
  }

 private:
  BlockCipher& inner_;
  int fail_on_call_;
  int calls_ = 0;
  int blocks_ = 0;
};

TEST_F(MilenageTest, BatchIsTwoCipherCallsAndEachVectorIsTheOneAtATimeVector) {
  std::mt19937_64 rng(11);
  std::vector<std::pair<Block, Sqn>> requests;
  for (int i = 0; i < 7; ++i) {
    Block rand{};
    for (auto& b : rand) b = static_cast<uint8_t>(rng());
    requests.emplace_back(rand, SqnFromUint64(32 * (i + 1) + i));
  }
  RoundCountingCipher batch_cipher(*aes_);
  StatusOr<std::vector<AuthVector>> batch = GenerateAuthVectors(batch_cipher, opc_, requests, amf_);
  ASSERT_OK(batch);
  EXPECT_EQ(batch_cipher.calls(), 2) << "every TEMP, then every OUT1..OUT5";
  EXPECT_EQ(batch_cipher.blocks(), 6 * 7);
  ASSERT_EQ(batch->size(), requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) {
    CountingCipher one_cipher(*aes_);  // one block per call: the unbatched order
    StatusOr<AuthVector> one = GenerateAuthVector(one_cipher, opc_, requests[i].first, requests[i].second, amf_);
    ASSERT_OK(one);
    EXPECT_EQ(one_cipher.calls(), 6);
    const AuthVector& b = (*batch)[i];
    EXPECT_EQ(H(b.rand), H(one->rand)) << i;
    EXPECT_EQ(H(b.xres), H(one->xres)) << i;
    EXPECT_EQ(H(b.ck), H(one->ck)) << i;
    EXPECT_EQ(H(b.ik), H(one->ik)) << i;
    EXPECT_EQ(H(b.autn), H(one->autn)) << i;
    EXPECT_EQ(H(b.sres), H(one->sres)) << i;
    EXPECT_EQ(H(b.kc), H(one->kc)) << i;
  }
  // The batch's first vector is the test set's when its request is the test set's.
  requests[0] = {rand_, sqn_};
  StatusOr<std::vector<AuthVector>> again = GenerateAuthVectors(*aes_, opc_, requests, amf_);
  ASSERT_OK(again);
  StatusOr<AuthVector> known = GenerateAuthVector(*aes_, opc_, rand_, sqn_, amf_);
  ASSERT_OK(known);
  EXPECT_EQ(H(again->front().autn), H(known->autn));

  RoundCountingCipher none(*aes_);
  StatusOr<std::vector<AuthVector>> empty = GenerateAuthVectors(none, opc_, {}, amf_);
  ASSERT_OK(empty);
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(none.calls(), 0);
}

TEST_F(MilenageTest, BatchFailsWholeWhenEitherCipherCallFails) {
  std::vector<std::pair<Block, Sqn>> requests(3, {rand_, sqn_});
  for (int n = 1; n <= 2; ++n) {
    RoundCountingCipher c(*aes_, n);
    StatusOr<std::vector<AuthVector>> v = GenerateAuthVectors(c, opc_, requests, amf_);
    ASSERT_FALSE(v.ok()) << n;
    EXPECT_EQ(v.status().code(), StatusCode::kUnavailable) << n;
    EXPECT_NE(v.status().message().find(n == 1 ? "Milenage TEMP" : "Milenage OUT1..OUT5"), std::string::npos)
        << v.status().ToString();
    EXPECT_EQ(c.calls(), n) << "no cipher call after the failing one";
  }
}

// The size check is the base class's, so no override can skip it: a mismatch
// is refused before any block reaches the cipher, and out is left as it was.
TEST_F(MilenageTest, EncryptBlocksRefusesSpansOfDifferentSizesBeforeAnyCipherCall) {
  RoundCountingCipher c(*aes_);
  const std::array<Block, 3> in{rand_, rand_, rand_};
  std::array<Block, 2> out{};
  Status s = c.EncryptBlocks(in, out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "EncryptBlocks: 3 blocks in, room for 2");
  EXPECT_EQ(c.calls(), 0);
  EXPECT_EQ(out, (std::array<Block, 2>{}));
  ASSERT_OK(c.EncryptBlocks(std::span(in).first(2), out));
  EXPECT_EQ(c.calls(), 1);
}

TEST_F(MilenageTest, CheckAutnRejectsAnyTamperedBit) {
  StatusOr<AuthVector> v = GenerateAuthVector(*aes_, opc_, rand_, sqn_, amf_);
  ASSERT_OK(v);
  for (std::size_t byte = 0; byte < 16; ++byte) {
    for (int bit = 0; bit < 8; bit += 7) {
      Block autn = v->autn;
      autn[byte] ^= static_cast<uint8_t>(1u << bit);
      StatusOr<AutnCheckResult> r = CheckAutn(*aes_, opc_, rand_, autn);
      ASSERT_FALSE(r.ok()) << "byte " << byte << " bit " << bit;
      EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
      EXPECT_EQ(r.status().message(), "MAC failure");
    }
  }
  // Right AUTN, wrong RAND.
  Block other_rand = rand_;
  other_rand[0] ^= 1;
  EXPECT_EQ(CheckAutn(*aes_, opc_, other_rand, v->autn).status().code(),
            StatusCode::kUnauthenticated);
}

TEST_F(MilenageTest, VerifyAutsRejectsAnyTamperedBit) {
  StatusOr<Auts> auts = BuildAuts(*aes_, opc_, rand_, sqn_);
  ASSERT_OK(auts);
  for (std::size_t byte = 0; byte < auts->size(); ++byte) {
    Auts bad = *auts;
    bad[byte] ^= 0x80;
    StatusOr<Sqn> r = VerifyAuts(*aes_, opc_, rand_, bad);
    ASSERT_FALSE(r.ok()) << "byte " << byte;
    EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  }
  Block other_rand = rand_;
  other_rand[15] ^= 1;
  EXPECT_EQ(VerifyAuts(*aes_, opc_, other_rand, *auts).status().code(),
            StatusCode::kUnauthenticated);
}

TEST_F(MilenageTest, GsmConversionIsXorFold) {
  const Res res = Hex<8>("0102030410203040");
  EXPECT_EQ(H(ConvertResToSres(res)), "11223344");
  const Block ck = Hex<16>("000000000000000100000000000000f0");
  const Block ik = Hex<16>("ff00000000000000000000000000000e");
  EXPECT_EQ(H(ConvertToKc(ck, ik)), "ff000000000000ff");
}

TEST(MilenageSqnTest, IntegerConversion) {
  EXPECT_EQ(H(SqnFromUint64(0)), "000000000000");
  EXPECT_EQ(H(SqnFromUint64(0x0102030405a6)), "0102030405a6");
  EXPECT_EQ(H(SqnFromUint64(0xabcd0000000000ffULL)), "0000000000ff");  // keeps 48 bits
  EXPECT_EQ(SqnToUint64(Hex<6>("ffffffffffff")), 0xffffffffffffULL);
  EXPECT_EQ(SqnToUint64(SqnFromUint64(0x123456789abcULL)), 0x123456789abcULL);
}

// ---------------------------------------------------------------------------
// Bad inputs and failing ciphers.

TEST(MilenageSoftwareAesTest, RejectsWrongKeySize) {
  for (std::size_t size : {0u, 1u, 15u, 17u, 24u, 32u}) {
    StatusOr<std::unique_ptr<SoftwareAes128>> c = SoftwareAes128::Create(SecretBytes(size));
    ASSERT_FALSE(c.ok()) << size;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << size;
  }
}

TEST(MilenageSoftwareAesTest, Fips197AppendixC1) {
  // FIPS-197 C.1: AES-128, key 000102..0f, plaintext 00112233..ff.
  auto c = MakeCipher(Hex<16>("000102030405060708090a0b0c0d0e0f"));
  ASSERT_NE(c, nullptr);
  Block out{};
  ASSERT_OK(c->EncryptBlock(Hex<16>("00112233445566778899aabbccddeeff"), out));
  EXPECT_EQ(H(out), "69c4e0d86a7b0430d8cdb78070b4c55a");
  // The context is reusable block after block (ECB, no padding, no state).
  ASSERT_OK(c->EncryptBlock(Hex<16>("00112233445566778899aabbccddeeff"), out));
  EXPECT_EQ(H(out), "69c4e0d86a7b0430d8cdb78070b4c55a");
}

TEST_F(MilenageTest, CipherFailureOnEveryCallPropagates) {
  for (int n = 1; n <= 6; ++n) {
    CountingCipher c(*aes_, n);
    StatusOr<MilenageOutput> o = ComputeMilenage(c, opc_, rand_, sqn_, amf_);
    ASSERT_FALSE(o.ok()) << n;
    EXPECT_EQ(o.status().code(), StatusCode::kUnavailable) << n;
    EXPECT_NE(o.status().message().find("token gone"), std::string::npos);
    EXPECT_NE(o.status().message().find("Milenage"), std::string::npos);
    EXPECT_EQ(c.calls(), n) << "no encryption after the failing one";
  }
  for (int n = 1; n <= 6; ++n) {
    CountingCipher c(*aes_, n);
    EXPECT_EQ(GenerateAuthVector(c, opc_, rand_, sqn_, amf_).status().code(), StatusCode::kUnavailable);
  }
  StatusOr<Auts> auts = BuildAuts(*aes_, opc_, rand_, sqn_);
  ASSERT_OK(auts);
  StatusOr<AuthVector> v = GenerateAuthVector(*aes_, opc_, rand_, sqn_, amf_);
  ASSERT_OK(v);
  for (int n = 1; n <= 3; ++n) {
    CountingCipher c1(*aes_, n);
    EXPECT_EQ(BuildAuts(c1, opc_, rand_, sqn_).status().code(), StatusCode::kUnavailable);
    CountingCipher c2(*aes_, n);
    EXPECT_EQ(VerifyAuts(c2, opc_, rand_, *auts).status().code(), StatusCode::kUnavailable);
  }
  for (int n = 1; n <= 5; ++n) {
    CountingCipher c(*aes_, n);
    EXPECT_EQ(CheckAutn(c, opc_, rand_, v->autn).status().code(), StatusCode::kUnavailable);
  }
  CountingCipher c(*aes_, 1);
  EXPECT_EQ(ComputeOpc(c, op_).status().code(), StatusCode::kUnavailable);
}

// ---------------------------------------------------------------------------
// Cross-check against osmo-auc-gen (libosmocore), an independent implementation.
// How the tool is run and what its options mean: tests/support/osmo_auc_gen.h.

using ::simkms::testing::FindOsmoAucGen;
using ::simkms::testing::RunOsmoAucGen;
using ToolResult = ::simkms::testing::OsmoAucGenResult;

template <std::size_t N>
std::array<uint8_t, N> RandomBytes(std::mt19937_64& rng) {
  std::array<uint8_t, N> out{};
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

class MilenageOsmoAucGenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::optional<std::filesystem::path> tool = FindOsmoAucGen();
    if (!tool) GTEST_SKIP() << "osmo-auc-gen (libosmocore-utils) not on PATH";
    tool_ = *tool;
  }
  std::filesystem::path tool_;
  // Fixed seed: a failure reproduces, and the case's inputs are in the trace.
  std::mt19937_64 rng_{0x53494d4b4d53ULL};
};

TEST_F(MilenageOsmoAucGenTest, RandomAuthVectorsMatch) {
  constexpr int kCases = 240;
  for (int i = 0; i < kCases; ++i) {
    const auto key = RandomBytes<16>(rng_);
    const Block op_or_opc = RandomBytes<16>(rng_);
    const Block rand = RandomBytes<16>(rng_);
    const Amf amf = RandomBytes<2>(rng_);
    uint64_t sqn_value = 32 + rng_() % ((1ULL << 48) - 32);
    if (i == 0) sqn_value = 32;
    if (i == 1) sqn_value = (1ULL << 48) - 1;
    const bool use_op = (i % 4 == 3);  // every fourth case passes OP and derives OPc
    const Sqn sqn = SqnFromUint64(sqn_value);
    const std::string args = "-3 -a MILENAGE -k " + H(key) + (use_op ? " -O " : " -o ") +
                             H(op_or_opc) + " -r " + H(rand) + " -s " +
                             std::to_string(sqn_value) + " -f " + H(amf);
    SCOPED_TRACE("case " + std::to_string(i) + ": osmo-auc-gen " + args);

    auto k = MakeCipher(key);
    ASSERT_NE(k, nullptr);
    Block opc = op_or_opc;
    if (use_op) {
      StatusOr<Block> derived = ComputeOpc(*k, op_or_opc);
      ASSERT_OK(derived);
      opc = *derived;
    }
    StatusOr<AuthVector> v = GenerateAuthVector(*k, opc, rand, sqn, amf);
    ASSERT_OK(v);

    ToolResult r = RunOsmoAucGen(tool_, args);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.fields["RAND"], H(rand));
    EXPECT_EQ(r.fields["SQN"], std::to_string(sqn_value)) << r.output;
    EXPECT_EQ(r.fields["AUTN"], H(v->autn));
    EXPECT_EQ(r.fields["RES"], H(v->xres));
    EXPECT_EQ(r.fields["CK"], H(v->ck));
    EXPECT_EQ(r.fields["IK"], H(v->ik));
    EXPECT_EQ(r.fields["SRES"], H(v->sres));
    EXPECT_EQ(r.fields["Kc"], H(v->kc));
    if (HasFailure()) return;  // one fully traced failure is enough
  }
}

TEST_F(MilenageOsmoAucGenTest, AutsAcceptedAndTamperedAutsRejected) {
  constexpr int kCases = 40;
  for (int i = 0; i < kCases; ++i) {
    const auto key = RandomBytes<16>(rng_);
    const Block opc = RandomBytes<16>(rng_);
    const Block rand = RandomBytes<16>(rng_);
    const uint64_t sqn_ms_value = rng_() & ((1ULL << 48) - 1);
    const Sqn sqn_ms = SqnFromUint64(sqn_ms_value);
    auto k = MakeCipher(key);
    ASSERT_NE(k, nullptr);
    StatusOr<Auts> auts = BuildAuts(*k, opc, rand, sqn_ms);
    ASSERT_OK(auts);
    const std::string base = "-3 -a MILENAGE -k " + H(key) + " -o " + H(opc) + " -r " + H(rand);
    SCOPED_TRACE("case " + std::to_string(i) + ": osmo-auc-gen " + base + " -A " + H(*auts));

    ToolResult r = RunOsmoAucGen(tool_, base + " -A " + H(*auts));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.fields["SQN.MS"], std::to_string(sqn_ms_value)) << r.output;

    StatusOr<Sqn> ours = VerifyAuts(*k, opc, rand, *auts);
    ASSERT_OK(ours);
    EXPECT_EQ(SqnToUint64(*ours), sqn_ms_value);

    if (i % 4 == 0) {  // a tampered MAC-S: both sides must refuse
      Auts bad = *auts;
      bad[6 + static_cast<std::size_t>(i) % 8] ^= 0x01;
      ToolResult rejected = RunOsmoAucGen(tool_, base + " -A " + H(bad));
      EXPECT_NE(rejected.exit_code, 0) << rejected.output;
      EXPECT_NE(rejected.output.find("AUTS from MS seems incorrect"), std::string::npos);
      EXPECT_EQ(VerifyAuts(*k, opc, rand, bad).status().code(), StatusCode::kUnauthenticated);
    }
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace simkms::kms
