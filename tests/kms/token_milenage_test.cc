// The AC's Milenage inside the token (kms/auc_vectors.h): the TS 35.207 test
// sets and osmo-auc-gen through a PKCS#11 key handle, the VER's sealed OP, the
// whole Ki_1 path against the chip's software computation, the Ki_2 vault path,
// AUTS resynchronisation, and the speed of one multi-part operation per batch.
#include "kms/auc_vectors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "softcrypto/derivation_data.h"
#include "kms/k1_export.h"
#include "kms/kcv.h"
#include "kms/ki1.h"
#include "kms/ki2_vault.h"
#include "kms/master_key.h"
#include "softcrypto/milenage.h"
#include "kms/secret_field.h"
#include "softcrypto/software_aes.h"
#include "softcrypto/software_keys.h"
#include "kms/token_block_cipher.h"
#include "kms/token_keys.h"
#include "tests/kms/kms_test_util.h"
#include "tests/kms/rsa_test_keys.h"
#include "tests/softcrypto/milenage_vectors.h"
#include "tests/support/osmo_auc_gen.h"
#include "tests/support/paths.h"
#include "tests/support/temp_dir.h"
#include "tests/support/status_testing.h"
#include "tests/support/token_modules.h"

namespace simkms::testing {
// Keeps test names and ctest entries readable ("TestSet3", not a byte dump).
void PrintTo(const MilenageTestSet& set, std::ostream* os) { *os << set.name; }
}  // namespace simkms::testing

namespace simkms::kms {
namespace {

using ::simkms::testing::ApplianceTokens;
using ::simkms::testing::FindOsmoAucGen;
using ::simkms::testing::kMilenageTestSets;
using ::simkms::testing::MakeRsa;
using ::simkms::testing::MilenageTestSet;
using ::simkms::testing::OsmoAucGenResult;
using ::simkms::testing::RsaPair;
using ::simkms::testing::RunOsmoAucGen;
using ::simkms::testing::MakeTestToken;
using ::simkms::testing::SoftHsmToken;
using ::simkms::testing::TokenModule;
using ::simkms::testing::TokenSession;
using ::simkms::testing::Unwrap;
using Requests = std::vector<std::pair<Block, Sqn>>;

template <std::size_t N>
std::array<uint8_t, N> Hex(std::string_view hex) {
  StatusOr<Bytes> bytes = FromHex(hex);
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

template <std::size_t N>
std::array<uint8_t, N> RandomBytes(std::mt19937_64& rng) {
  std::array<uint8_t, N> out{};
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

// SQN in [32, 2^48 - 1], the range osmo-auc-gen -s reproduces exactly.
uint64_t RandomSqn(std::mt19937_64& rng) { return 32 + rng() % ((1ULL << 48) - 32); }

std::string RandomImsi(std::mt19937_64& rng) {
  std::string imsi = "00101";
  while (imsi.size() < 15) imsi.push_back(static_cast<char>('0' + rng() % 10));
  return imsi;
}

// TEST-ONLY import of a KNOWN subscriber key K, so that the TS 35.207 tables and
// osmo-auc-gen can be run through the token. The appliance never imports a
// subscriber key like this: Ki_1 is derived inside the token (kms/ki1.h) and
// Ki_2 is negotiated inside it (kms/ki2_vault.h, FreshKi2Template).
p11::ScopedObject ImportTestKey(p11::Session& s, const Block& k) {
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false)
      .Bool(CKA_ENCRYPT, true)
      .Secret(CKA_VALUE, SecretBytes::Copy(ByteView(k.data(), k.size())));
  return Unwrap(s.CreateObject(a, "test K"));
}

std::unique_ptr<SoftwareAes128> SoftwareCipher(const SecretBytes& key) {
  return Unwrap(SoftwareAes128::Create(key));
}
std::unique_ptr<SoftwareAes128> SoftwareCipher(const Block& key) {
  return SoftwareCipher(SecretBytes::Copy(ByteView(key.data(), key.size())));
}

void ExpectSameVector(const AuthVector& a, const AuthVector& b) {
  EXPECT_EQ(H(a.rand), H(b.rand));
  EXPECT_EQ(H(a.xres), H(b.xres));
  EXPECT_EQ(H(a.ck), H(b.ck));
  EXPECT_EQ(H(a.ik), H(b.ik));
  EXPECT_EQ(H(a.autn), H(b.autn));
  EXPECT_EQ(H(a.sres), H(b.sres));
  EXPECT_EQ(H(a.kc), H(b.kc));
}

// Each TEST (and each parameter) runs in its own process under ctest, with its
// own throwaway token.
class TokenMilenageTest : public ::testing::Test {
 protected:
  explicit TokenMilenageTest(TokenModule module = TokenModule::kSoftHsm) : token_(MakeTestToken(module)) {}
  p11::Session& s() { return app_.runtime(); }
  // The service keys, as the init ceremony leaves them on the runtime token s(),
  // with MK on a ceremony token (made only by the tests that need it).
  ServiceKeys MakeHierarchy() {
    app_.Initialize();
    return app_.keys();
  }

  std::unique_ptr<simkms::testing::TestToken> token_;
  ApplianceTokens app_{*token_, ApplianceTokens::kBlank};
  std::mt19937_64 rng_{0x544f4b454e4d494cULL};  // fixed: a failure reproduces
};

// The same on SoftHSM and on NSS's softoken (tests/support/token_modules.h).
class TokenMilenageOnModule : public TokenMilenageTest, public ::testing::WithParamInterface<TokenModule> {
 protected:
  TokenMilenageOnModule() : TokenMilenageTest(GetParam()) {}
};
INSTANTIATE_TEST_SUITE_P(Modules, TokenMilenageOnModule, ::testing::ValuesIn(simkms::testing::kTokenModules),
                         simkms::testing::TokenModuleName);

// ---------------------------------------------------------------------------
// 1. TS 35.207 / 35.208 test sets through the token.

// On each module (tests/support/token_modules.h), each set.
class TokenMilenageKnownAnswerTest : public TokenMilenageTest,
                                     public ::testing::WithParamInterface<std::tuple<TokenModule, MilenageTestSet>> {
 protected:
  TokenMilenageKnownAnswerTest() : TokenMilenageTest(std::get<0>(GetParam())) {}
};

TEST_P(TokenMilenageKnownAnswerTest, OpcAndVectorsEqualTheTestSet) {
  const MilenageTestSet& t = std::get<1>(GetParam());
  p11::ScopedObject k = ImportTestKey(s(), Hex<16>(t.k));
  const SecretBytes op = SecretBytes::Copy(Hex<16>(t.op));

  const Block opc = Unwrap(ComputeOpcInToken(s(), k.get(), op)).reveal();
  EXPECT_EQ(H(opc), t.opc);

  // f1..f5* through the token cipher (AuthVector does not carry f1* and f5*).
  {
    TokenBlockCipher cipher(s(), k.get());
    MilenageOutput o = Unwrap(ComputeMilenage(cipher, opc, Hex<16>(t.rand), Hex<6>(t.sqn), Hex<2>(t.amf)));
    EXPECT_EQ(H(o.mac_a), t.f1);
    EXPECT_EQ(H(o.mac_s), t.f1_star);
    EXPECT_EQ(H(o.res), t.f2);
    EXPECT_EQ(H(o.ck), t.f3);
    EXPECT_EQ(H(o.ik), t.f4);
    EXPECT_EQ(H(o.ak), t.f5);
    EXPECT_EQ(H(o.ak_star), t.f5_star);
  }

  // The AuC's vector, with the OPc the token computed; the set's vector twice in
  // one batch around another request, so the multi-part operation's state is
  // seen to carry nothing from one vector into the next.
  const Sqn sqn = Hex<6>(t.sqn);
  const Block rand = Hex<16>(t.rand);
  Requests requests = {{rand, sqn}, {RandomBytes<16>(rng_), SqnFromUint64(RandomSqn(rng_))}, {rand, sqn}};
  std::vector<AuthVector> v = Unwrap(GenerateVectorsInToken(s(), k.get(), opc, requests, Hex<2>(t.amf)));
  ASSERT_EQ(v.size(), 3u);
  const Sqn ak = Hex<6>(t.f5);
  Sqn concealed{};
  for (std::size_t i = 0; i < 6; ++i) concealed[i] = sqn[i] ^ ak[i];
  for (std::size_t i : {0u, 2u}) {
    SCOPED_TRACE("vector " + std::to_string(i));
    EXPECT_EQ(H(v[i].rand), t.rand);
    EXPECT_EQ(H(v[i].autn), H(concealed) + t.amf + t.f1);
    EXPECT_EQ(H(v[i].xres), t.f2);
    EXPECT_EQ(H(v[i].ck), t.f3);
    EXPECT_EQ(H(v[i].ik), t.f4);
    EXPECT_EQ(H(v[i].sres), t.sres);
    EXPECT_EQ(H(v[i].kc), t.kc);
  }
  EXPECT_EQ(H(v[1].rand), H(requests[1].first));
  EXPECT_NE(H(v[1].xres), t.f2);
}

INSTANTIATE_TEST_SUITE_P(
    Ts35207, TokenMilenageKnownAnswerTest,
    ::testing::Combine(::testing::ValuesIn(simkms::testing::kTokenModules), ::testing::ValuesIn(kMilenageTestSets)),
    [](const ::testing::TestParamInfo<std::tuple<TokenModule, MilenageTestSet>>& info) {
      return simkms::testing::TokenModuleName({std::get<0>(info.param), info.index}) + "_" +
             std::string(std::get<1>(info.param).name);
    });

// ---------------------------------------------------------------------------
// 2. Random cases against osmo-auc-gen, an independent implementation.

TEST_P(TokenMilenageOnModule, RandomVectorsEqualOsmoAucGen) {
  std::optional<std::filesystem::path> tool = FindOsmoAucGen();
  if (!tool) GTEST_SKIP() << "osmo-auc-gen (libosmocore-utils) not on PATH";
  // 240 (K, OP or OPc, AMF), each with a batch of two (RAND, SQN): 480 vectors,
  // each checked against its own osmo-auc-gen run.
  constexpr int kKeys = 240;
  constexpr int kPerKey = 2;
  for (int i = 0; i < kKeys; ++i) {
    const Block key = RandomBytes<16>(rng_);
    const Block op_or_opc = RandomBytes<16>(rng_);
    const Amf amf = RandomBytes<2>(rng_);
    const bool use_op = (i % 4 == 3);  // every fourth case passes OP and derives OPc in the token
    p11::ScopedObject k = ImportTestKey(s(), key);
    const Block opc =
        use_op ? Unwrap(ComputeOpcInToken(s(), k.get(), SecretBytes::Copy(op_or_opc))).reveal() : op_or_opc;

    Requests requests;
    std::vector<uint64_t> sqn_values;
    for (int j = 0; j < kPerKey; ++j) {
      uint64_t sqn_value = RandomSqn(rng_);
      if (i == 0 && j == 0) sqn_value = 32;
      if (i == 0 && j == 1) sqn_value = (1ULL << 48) - 1;
      sqn_values.push_back(sqn_value);
      requests.emplace_back(RandomBytes<16>(rng_), SqnFromUint64(sqn_value));
    }
    std::vector<AuthVector> v = Unwrap(GenerateVectorsInToken(s(), k.get(), opc, requests, amf));
    ASSERT_EQ(v.size(), requests.size());

    for (int j = 0; j < kPerKey; ++j) {
      const Block& rand = requests[static_cast<std::size_t>(j)].first;
      const AuthVector& ours = v[static_cast<std::size_t>(j)];
      const std::string args = "-3 -a MILENAGE -k " + H(key) + (use_op ? " -O " : " -o ") + H(op_or_opc) +
                               " -r " + H(rand) + " -s " + std::to_string(sqn_values[static_cast<std::size_t>(j)]) +
                               " -f " + H(amf);
      SCOPED_TRACE("case " + std::to_string(i) + "." + std::to_string(j) + ": osmo-auc-gen " + args);
      OsmoAucGenResult r = RunOsmoAucGen(*tool, args);
      ASSERT_EQ(r.exit_code, 0) << r.output;
      EXPECT_EQ(r.fields["RAND"], H(rand));
      EXPECT_EQ(r.fields["SQN"], std::to_string(sqn_values[static_cast<std::size_t>(j)])) << r.output;
      EXPECT_EQ(r.fields["AUTN"], H(ours.autn));
      EXPECT_EQ(r.fields["RES"], H(ours.xres));
      EXPECT_EQ(r.fields["CK"], H(ours.ck));
      EXPECT_EQ(r.fields["IK"], H(ours.ik));
      EXPECT_EQ(r.fields["SRES"], H(ours.sres));
      EXPECT_EQ(r.fields["Kc"], H(ours.kc));
      if (HasFailure()) return;  // one fully traced failure is enough
    }
  }
}

// ---------------------------------------------------------------------------
// 3. The VER's OP, sealed in its record.

TEST_F(TokenMilenageTest, VerOpOpensOnlyForItsVer) {
  const ServiceKeys keys = MakeHierarchy();
  const MilenageTestSet& t = kMilenageTestSets[0];
  const SecretBytes op = SecretBytes::Copy(Hex<16>(t.op));
  const Bytes sealed = Unwrap(SealField(s(), keys.op_encryption, "op|7", op));

  SecretBytes opened = Unwrap(OpenVerOp(s(), keys, 7, sealed));
  EXPECT_TRUE(opened.Equals(op));
  // And it is the operator's OP: OPc under the set's K is the set's OPc.
  p11::ScopedObject k = ImportTestKey(s(), Hex<16>(t.k));
  EXPECT_EQ(H(Unwrap(ComputeOpcInToken(s(), k.get(), opened)).reveal()), t.opc);

  // Another VER's record, a flipped bit, another key: refused.
  auto other_ver = OpenVerOp(s(), keys, 8, sealed);
  ASSERT_FALSE(other_ver.ok());
  EXPECT_EQ(other_ver.status().code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(other_ver.status().message(), ::testing::HasSubstr("VER 8"));
  for (std::size_t i = 0; i < sealed.size(); i += 5) {
    Bytes flipped = sealed;
    flipped[i] ^= 0x04;
    EXPECT_EQ(OpenVerOp(s(), keys, 7, flipped).status().code(), StatusCode::kUnauthenticated) << i;
  }
  ServiceKeys wrong_key = keys;
  wrong_key.op_encryption = keys.puk_encryption;
  EXPECT_EQ(OpenVerOp(s(), wrong_key, 7, sealed).status().code(), StatusCode::kUnauthenticated);
  // A sealed value of the wrong size is not an OP.
  const Bytes short_op = Unwrap(SealField(s(), keys.op_encryption, "op|9", SecretBytes(15)));
  EXPECT_EQ(OpenVerOp(s(), keys, 9, short_op).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(ComputeOpcInToken(s(), k.get(), SecretBytes(15)).status().code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// 4. The AC path on a real hierarchy against the chip's side in software.

TEST_F(TokenMilenageTest, Ki1VectorsEqualTheChipsAndTheChipAcceptsThem) {
  const ServiceKeys keys = MakeHierarchy();
  const RsaPair manufacturer = MakeRsa(2048);
  constexpr int kImsis = 20;
  for (Profile profile : {Profile::kModern, Profile::kLegacy}) {
    const uint32_t ver = profile == Profile::kLegacy ? 7 : 8;
    SCOPED_TRACE(std::string(ProfileName(profile)) + " VER " + std::to_string(ver));
    // The VER: K1 in the token, OP sealed in its record, AMF.
    CK_OBJECT_HANDLE k1 = app_.K1(ver, profile);
    const SecretBytes op = SecretBytes::Copy(RandomBytes<16>(rng_));
    const Bytes sealed_op = Unwrap(SealField(s(), keys.op_encryption, "op|" + std::to_string(ver), op));
    K1ExportContext context;
    context.op = op;
    const Amf amf{context.amf[0], context.amf[1]};

    // The manufacturer (and so the chip) gets K1 and OP from the export file.
    const K1Export exported = Unwrap(K1Export::FromJson(
        Unwrap(ExportK1(app_.mk->session(), app_.mk->mk(), ver, profile, "acme", manufacturer.public_pem, context))
            .ToJson()));
    const SecretBytes chip_k1 = Unwrap(UnwrapK1Export(exported, manufacturer.private_pem));
    const SecretBytes chip_op = Unwrap(UnwrapOpFromExport(exported, manufacturer.private_pem));
    Block chip_op_block{};
    std::ranges::copy(chip_op.reveal(), chip_op_block.begin());

    for (int n = 0; n < kImsis; ++n) {
      const std::string imsi = RandomImsi(rng_);
      SCOPED_TRACE("IMSI " + imsi);
      // AC: Ki_1 on demand, OP from the VER record, OPc and vectors in the token.
      p11::ScopedObject ki1 = Unwrap(DeriveKi1(s(), k1, profile, imsi));
      const SecretBytes ac_op = Unwrap(OpenVerOp(s(), keys, ver, sealed_op));
      const SecretArray<16> ac_opc = Unwrap(ComputeOpcInToken(s(), ki1.get(), ac_op));
      Requests requests;
      for (int j = 0; j < 3; ++j) requests.emplace_back(RandomBytes<16>(rng_), SqnFromUint64(RandomSqn(rng_)));
      const std::vector<AuthVector> ac =
          Unwrap(GenerateVectorsInToken(s(), ki1.get(), ac_opc.reveal(), requests, amf));
      ASSERT_EQ(ac.size(), requests.size());

      // Chip: Ki_1 from K1 in software, Milenage with SoftwareAes128.
      auto chip = SoftwareCipher(Unwrap(SoftwareDeriveKi1(profile, chip_k1, imsi)));
      const Block chip_opc = Unwrap(ComputeOpc(*chip, chip_op_block));
      for (std::size_t j = 0; j < requests.size(); ++j) {
        const auto& [rand, sqn] = requests[j];
        SCOPED_TRACE("vector " + std::to_string(j));
        ExpectSameVector(ac[j], Unwrap(GenerateAuthVector(*chip, chip_opc, rand, sqn, amf)));
        // The chip accepts the AC's AUTN and answers with the AC's XRES, CK, IK.
        AutnCheckResult check = Unwrap(CheckAutn(*chip, chip_opc, rand, ac[j].autn));
        EXPECT_EQ(check.sqn, sqn);
        EXPECT_EQ(check.amf, amf);
        EXPECT_EQ(H(check.res), H(ac[j].xres));
        EXPECT_EQ(H(check.ck), H(ac[j].ck));
        EXPECT_EQ(H(check.ik), H(ac[j].ik));
        EXPECT_EQ(H(ConvertResToSres(check.res)), H(ac[j].sres));
        EXPECT_EQ(H(ConvertToKc(check.ck, check.ik)), H(ac[j].kc));
      }
      if (HasFailure()) return;
    }
  }
}

// ---------------------------------------------------------------------------
// 5. Ki_2 through the vault.

TEST_F(TokenMilenageTest, Ki2UnwrappedFromTheVaultGivesTheSameVectors) {
  const ServiceKeys keys = MakeHierarchy();
  Ki2Vault vault(keys.storage_kek, Unwrap(TokenKcv(s(), keys.storage_kek, "KEK")));
  p11::Attributes fresh = FreshKi2Template();
  p11::ScopedObject ki2 = Unwrap(s().GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, fresh, "Ki_2"));
  const WrappedKi2 wrapped = Unwrap(vault.Wrap(s(), ki2.get()));
  p11::ScopedObject unwrapped = Unwrap(vault.Unwrap(s(), wrapped, "001019876543210"));

  const SecretBytes op = SecretBytes::Copy(RandomBytes<16>(rng_));
  const Block opc = Unwrap(ComputeOpcInToken(s(), ki2.get(), op)).reveal();
  EXPECT_EQ(H(Unwrap(ComputeOpcInToken(s(), unwrapped.get(), op)).reveal()), H(opc));
  const Amf amf{0x80, 0x00};
  Requests requests;
  for (int j = 0; j < 10; ++j) requests.emplace_back(RandomBytes<16>(rng_), SqnFromUint64(RandomSqn(rng_)));
  const std::vector<AuthVector> original = Unwrap(GenerateVectorsInToken(s(), ki2.get(), opc, requests, amf));
  const std::vector<AuthVector> from_vault = Unwrap(GenerateVectorsInToken(s(), unwrapped.get(), opc, requests, amf));
  ASSERT_EQ(original.size(), requests.size());
  ASSERT_EQ(from_vault.size(), requests.size());
  for (std::size_t j = 0; j < requests.size(); ++j) {
    SCOPED_TRACE("vector " + std::to_string(j));
    ExpectSameVector(original[j], from_vault[j]);
  }
  // An AUTS made under the original handle verifies under the unwrapped one.
  const Sqn sqn_ms = SqnFromUint64(RandomSqn(rng_));
  StatusOr<Auts> auts = Auts{};
  {
    // The cipher keeps the session's encrypt operation open until it dies: the
    // session can do nothing else meanwhile (CKR_OPERATION_ACTIVE).
    TokenBlockCipher original_cipher(s(), ki2.get());
    auts = BuildAuts(original_cipher, opc, requests[0].first, sqn_ms);
  }
  ASSERT_OK(auts);
  EXPECT_EQ(Unwrap(VerifyAutsInToken(s(), unwrapped.get(), opc, requests[0].first, *auts)), sqn_ms);
  // And another fresh Ki_2 gives different vectors.
  p11::Attributes fresh2 = FreshKi2Template();
  p11::ScopedObject other = Unwrap(s().GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, fresh2, "other Ki_2"));
  const std::vector<AuthVector> others = Unwrap(GenerateVectorsInToken(s(), other.get(), opc, requests, amf));
  ASSERT_EQ(others.size(), requests.size());
  EXPECT_NE(H(others[0].autn), H(original[0].autn));
  EXPECT_NE(H(others[0].xres), H(original[0].xres));
}

// ---------------------------------------------------------------------------
// 6. AUTS resynchronisation.

TEST_F(TokenMilenageTest, AutsFromTheCardRecoversSqnMsAndTamperingIsRefused) {
  std::optional<std::filesystem::path> tool = FindOsmoAucGen();
  for (const MilenageTestSet& t : kMilenageTestSets) {
    SCOPED_TRACE(t.name);
    const Block key = Hex<16>(t.k);
    p11::ScopedObject k = ImportTestKey(s(), key);
    auto card = SoftwareCipher(key);
    const Block opc = Hex<16>(t.opc);
    const Block rand = Hex<16>(t.rand);
    const std::vector<uint64_t> sqn_ms_values = {SqnToUint64(Hex<6>(t.sqn)), 0, (uint64_t{1} << 48) - 1,
                                                 rng_() & ((uint64_t{1} << 48) - 1)};
    for (uint64_t sqn_ms_value : sqn_ms_values) {
      const Sqn sqn_ms = SqnFromUint64(sqn_ms_value);
      const Auts auts = Unwrap(BuildAuts(*card, opc, rand, sqn_ms));
      EXPECT_EQ(Unwrap(VerifyAutsInToken(s(), k.get(), opc, rand, auts)), sqn_ms);
      if (tool) {  // and osmo-auc-gen recovers the same SQN_MS from it
        OsmoAucGenResult r =
            RunOsmoAucGen(*tool, "-3 -a MILENAGE -k " + H(key) + " -o " + H(opc) + " -r " + H(rand) + " -A " + H(auts));
        EXPECT_EQ(r.exit_code, 0) << r.output;
        EXPECT_EQ(r.fields["SQN.MS"], std::to_string(sqn_ms_value)) << r.output;
      }
    }
    // Any flipped bit of AUTS (one per byte, walking the bit position), a wrong
    // RAND, the wrong OPc: Unauthenticated.
    const Auts auts = Unwrap(BuildAuts(*card, opc, rand, Hex<6>(t.sqn)));
    for (std::size_t byte = 0; byte < auts.size(); ++byte) {
      Auts bad = auts;
      bad[byte] ^= static_cast<uint8_t>(1u << (byte % 8));
      auto r = VerifyAutsInToken(s(), k.get(), opc, rand, bad);
      ASSERT_FALSE(r.ok()) << "byte " << byte;
      EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated) << "byte " << byte;
    }
    Block other_rand = rand;
    other_rand[3] ^= 0x10;
    EXPECT_EQ(VerifyAutsInToken(s(), k.get(), opc, other_rand, auts).status().code(), StatusCode::kUnauthenticated);
    Block other_opc = opc;
    other_opc[0] ^= 0x01;
    EXPECT_EQ(VerifyAutsInToken(s(), k.get(), other_opc, rand, auts).status().code(), StatusCode::kUnauthenticated);
  }
}

// ---------------------------------------------------------------------------
// Errors, and the session after them.

TEST_F(TokenMilenageTest, TokenErrorsAreReportedAndLeaveTheSessionUsable) {
  const MilenageTestSet& t = kMilenageTestSets[2];
  const Block opc = Hex<16>(t.opc);
  const Requests requests = {{Hex<16>(t.rand), Hex<6>(t.sqn)}};

  // A key that may not encrypt (a MAC-only key): C_EncryptInit is refused.
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_ENCRYPT, false)
      .Bool(CKA_SIGN, true)
      .Secret(CKA_VALUE, SecretBytes::Copy(Hex<16>(t.k)));
  p11::ScopedObject mac_only = Unwrap(s().CreateObject(a, "MAC-only key"));
  auto refused = GenerateVectorsInToken(s(), mac_only.get(), opc, requests, Hex<2>(t.amf));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("C_EncryptInit"));
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("Milenage TEMP"));  // the batch's first round
  EXPECT_FALSE(ComputeOpcInToken(s(), mac_only.get(), SecretBytes(16)).ok());
  EXPECT_FALSE(VerifyAutsInToken(s(), mac_only.get(), opc, requests[0].first, Auts{}).ok());
  // A handle that is not a key.
  EXPECT_FALSE(GenerateVectorsInToken(s(), 0xdead, opc, requests, Hex<2>(t.amf)).ok());

  // An empty batch never touches the token.
  EXPECT_TRUE(Unwrap(GenerateVectorsInToken(s(), 0xdead, opc, {}, Hex<2>(t.amf))).empty());

  // No operation was left open: the same session computes the right vector.
  p11::ScopedObject k = ImportTestKey(s(), Hex<16>(t.k));
  std::vector<AuthVector> v = Unwrap(GenerateVectorsInToken(s(), k.get(), opc, requests, Hex<2>(t.amf)));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(H(v[0].xres), t.f2);
  EXPECT_EQ(H(v[0].kc), t.kc);
}

// ---------------------------------------------------------------------------
// One multi-part operation per batch, seen from the PKCS#11 interface: the token
// is loaded through OpenSC's pkcs11-spy, which logs every call.

std::optional<std::filesystem::path> FindPkcs11Spy() {
  for (const char* p : {"/usr/lib/x86_64-linux-gnu/pkcs11-spy.so", "/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so",
                        "/usr/lib/pkcs11-spy.so", "/usr/lib/pkcs11/pkcs11-spy.so"}) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(p, ec)) return std::filesystem::path(p);
  }
  return std::nullopt;
}

// Points SIMKMS_SOFTHSM_MODULE at the spy (which forwards to SoftHSM) before the
// token's module is loaded. One token per process (ctest runs each TEST alone).
struct SpiedModule {
  SpiedModule() {
    spy = FindPkcs11Spy();
    if (!spy) return;
    if (const char* previous = std::getenv("SIMKMS_SOFTHSM_MODULE")) previous_module = previous;
    setenv("PKCS11SPY", ::simkms::testing::SoftHsmModulePath().c_str(), 1);
    setenv("PKCS11SPY_OUTPUT", log.string().c_str(), 1);
    setenv("SIMKMS_SOFTHSM_MODULE", spy->c_str(), 1);
  }
  ~SpiedModule() {
    if (!spy) return;
    if (previous_module) {
      setenv("SIMKMS_SOFTHSM_MODULE", previous_module->c_str(), 1);
    } else {
      unsetenv("SIMKMS_SOFTHSM_MODULE");
    }
  }
  SpiedModule(const SpiedModule&) = delete;
  SpiedModule& operator=(const SpiedModule&) = delete;
  // Calls logged from byte `from` of the log on, by function name.
  std::map<std::string, int> CallsSince(std::size_t from) const {
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::map<std::string, int> calls;
    std::stringstream lines(text.substr(std::min(from, text.size())));
    std::string line;
    while (std::getline(lines, line)) {  // "12: C_EncryptUpdate"
      const std::size_t colon = line.find(": C_");
      if (colon == std::string::npos || line.find_first_not_of("0123456789") != colon) continue;
      std::string name = line.substr(colon + 2);
      name = name.substr(0, name.find_first_of(" \t\r"));
      ++calls[name];
    }
    return calls;
  }
  std::size_t LogSize() const {
    std::error_code ec;
    const auto size = std::filesystem::file_size(log, ec);
    return ec ? 0 : static_cast<std::size_t>(size);
  }

  ::simkms::testing::TempDir dir;
  std::filesystem::path log = dir / "pkcs11-spy.log";
  std::optional<std::filesystem::path> spy;
  std::optional<std::string> previous_module;
};

// pkcs11-spy allocates its state when loaded and never frees it (LeakSanitizer
// cannot name it either: the module is dlclose'd by then), so its load alone is
// excluded from leak checking. Everything after the load is checked as usual.
struct LoadModuleIgnoringItsLeaks {
  explicit LoadModuleIgnoringItsLeaks(SoftHsmToken& token) {
#if defined(__SANITIZE_ADDRESS__)
    __lsan::ScopedDisabler disabled;
#endif
    token.module();
  }
};

class TokenMilenageSpyTest : public ::testing::Test {
 protected:
  SpiedModule spied_;  // first: the token below loads its module through the spy
  SoftHsmToken token_;
  LoadModuleIgnoringItsLeaks loaded_{token_};
  TokenSession ts_{token_};
};

TEST_F(TokenMilenageSpyTest, BatchIsOneEncryptInitAndTwoUpdates) {
  if (!spied_.spy) GTEST_SKIP() << "pkcs11-spy (opensc) not installed";
  p11::Session& s = *ts_.session;
  std::mt19937_64 rng(7);
  p11::ScopedObject k = ImportTestKey(s, RandomBytes<16>(rng));
  const Block opc = RandomBytes<16>(rng);
  constexpr int kVectors = 50;
  Requests requests;
  for (int i = 0; i < kVectors; ++i) requests.emplace_back(RandomBytes<16>(rng), SqnFromUint64(RandomSqn(rng)));

  const std::size_t before = spied_.LogSize();
  ASSERT_GT(before, 0u) << "the spy wrote no log: " << spied_.log;
  std::vector<AuthVector> v = Unwrap(GenerateVectorsInToken(s, k.get(), opc, requests, Amf{0x80, 0x00}));
  ASSERT_EQ(v.size(), requests.size());
  std::map<std::string, int> calls = spied_.CallsSince(before);
  EXPECT_EQ(calls["C_EncryptInit"], 1);
  EXPECT_EQ(calls["C_EncryptUpdate"], 2) << "every TEMP, then every OUT1..OUT5 of the " << kVectors << " vectors";
  EXPECT_EQ(calls["C_EncryptFinal"], 1);
  EXPECT_EQ(calls["C_Encrypt"], 0);

  // AUTS verification: three blocks in one operation (a wrong MAC-S costs the same).
  const std::size_t before_auts = spied_.LogSize();
  EXPECT_EQ(VerifyAutsInToken(s, k.get(), opc, requests[0].first, Auts{}).status().code(),
            StatusCode::kUnauthenticated);
  calls = spied_.CallsSince(before_auts);
  EXPECT_EQ(calls["C_EncryptInit"], 1);
  EXPECT_EQ(calls["C_EncryptUpdate"], 3);
  EXPECT_EQ(calls["C_EncryptFinal"], 1);

  const std::size_t before_opc = spied_.LogSize();
  Unwrap(ComputeOpcInToken(s, k.get(), SecretBytes(16)));
  calls = spied_.CallsSince(before_opc);
  EXPECT_EQ(calls["C_EncryptInit"], 1);
  EXPECT_EQ(calls["C_EncryptUpdate"], 1);
  EXPECT_EQ(calls["C_EncryptFinal"], 1);
}

// ---------------------------------------------------------------------------
// Speed (printed, not asserted): one multi-part operation for the whole batch
// against one C_EncryptInit per vector and one per block.

// One C_EncryptInit + C_Encrypt per block: the slow way, for comparison only.
class InitPerBlockCipher : public BlockCipher {
 public:
  InitPerBlockCipher(p11::Session& s, CK_OBJECT_HANDLE key) : s_(s), key_(key) {}
  Status EncryptBlock(const Block& in, Block& out) override {
    SIMKMS_ASSIGN_OR_RETURN(Bytes c, s_.Encrypt({CKM_AES_ECB, nullptr, 0}, key_, in, "AES block"));
    if (c.size() != out.size()) return InternalError("short block");
    std::copy(c.begin(), c.end(), out.begin());
    return OkStatus();
  }

 private:
  p11::Session& s_;
  CK_OBJECT_HANDLE key_;
};

TEST_F(TokenMilenageTest, SpeedOfOneOperationPerBatch) {
  constexpr int kVectors = 1000;
  const Block key = RandomBytes<16>(rng_);
  const Block opc = RandomBytes<16>(rng_);
  const Amf amf{0x80, 0x00};
  Requests requests;
  for (int i = 0; i < kVectors; ++i) requests.emplace_back(RandomBytes<16>(rng_), SqnFromUint64(RandomSqn(rng_)));
  std::vector<AuthVector> software;
  software.reserve(kVectors);
  using Clock = std::chrono::steady_clock;
  auto per_second = [](Clock::duration d) { return kVectors / std::chrono::duration<double>(d).count(); };
  {
    auto cipher = SoftwareCipher(key);
    auto t0 = Clock::now();
    for (const auto& [rand, sqn] : requests) {
      software.push_back(Unwrap(GenerateAuthVector(*cipher, opc, rand, sqn, amf)));
    }
    std::printf("[ speed    ] %d vectors, one session, SoftHSM%s; software AES for reference: %.0f vectors/s\n",
                kVectors,
#if defined(__SANITIZE_ADDRESS__)
                " (this binary built with sanitizers: slower)",
#else
                "",
#endif
                per_second(Clock::now() - t0));
  }

  // A session object is what the AC computes with (Ki_1 derived on demand, an
  // unwrapped Ki_2); a token object (a Ki_2 kept in the token, and the kind of
  // key token-bench times) is shown for comparison: SoftHSM's token
  // objects are file-backed and each C_EncryptInit on one costs more.
  for (bool token_object : {false, true}) {
    p11::Attributes a;
    a.Ulong(CKA_CLASS, CKO_SECRET_KEY)
        .Ulong(CKA_KEY_TYPE, CKK_AES)
        .Bool(CKA_TOKEN, token_object)
        .Bool(CKA_PRIVATE, true)
        .Bool(CKA_SENSITIVE, true)
        .Bool(CKA_EXTRACTABLE, false)
        .Bool(CKA_ENCRYPT, true)
        .Secret(CKA_VALUE, SecretBytes::Copy(ByteView(key.data(), key.size())));  // test-only import
    p11::ScopedObject k = Unwrap(s().CreateObject(a, "test K"));
    const char* what = token_object ? "token-object key" : "session-object key";

    auto t0 = Clock::now();
    const std::vector<AuthVector> batch = Unwrap(GenerateVectorsInToken(s(), k.get(), opc, requests, amf));
    auto t1 = Clock::now();
    std::vector<AuthVector> per_vector;
    per_vector.reserve(kVectors);
    for (const auto& r : requests) {
      per_vector.push_back(Unwrap(GenerateVectorsInToken(s(), k.get(), opc, {r}, amf)).at(0));
    }
    auto t2 = Clock::now();
    std::vector<AuthVector> per_block;
    per_block.reserve(kVectors);
    {
      InitPerBlockCipher cipher(s(), k.get());
      for (const auto& [rand, sqn] : requests) {
        per_block.push_back(Unwrap(GenerateAuthVector(cipher, opc, rand, sqn, amf)));
      }
    }
    auto t3 = Clock::now();

    ASSERT_EQ(batch.size(), requests.size());
    for (std::size_t i = 0; i < requests.size(); ++i) {
      ExpectSameVector(batch[i], software[i]);
      ExpectSameVector(per_vector[i], software[i]);
      ExpectSameVector(per_block[i], software[i]);
      if (HasFailure()) return;
    }
    const double one_op = per_second(t1 - t0);
    const double init_per_vector = per_second(t2 - t1);
    const double init_per_block = per_second(t3 - t2);
    std::printf(
        "[ speed    ] %s:\n"
        "[ speed    ]   one C_EncryptInit for all %d    : %9.0f vectors/s\n"
        "[ speed    ]   one C_EncryptInit per vector    : %9.0f vectors/s\n"
        "[ speed    ]   one C_EncryptInit per AES block : %9.0f vectors/s\n",
        what, kVectors, one_op, init_per_vector, init_per_block);
    const std::string prefix = token_object ? "token_object_" : "session_object_";
    RecordProperty(prefix + "vectors_per_s_one_operation", static_cast<int>(one_op));
    RecordProperty(prefix + "vectors_per_s_init_per_vector", static_cast<int>(init_per_vector));
    RecordProperty(prefix + "vectors_per_s_init_per_block", static_cast<int>(init_per_block));
  }
}

}  // namespace
}  // namespace simkms::kms
