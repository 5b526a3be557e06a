// RUN GSM ALGORITHM and AUTHENTICATE at the APDU interface: the TS 35.207 test
// sets, SQN freshness per the TS 33.102 Annex C array, AUTS that a real AuC
// (kms::VerifyAuts, osmo-auc-gen) resynchronises from, MAC failures, and the
// implicit commit of a pending Ki_2' (docs/protocol.md §6).
#include <gtest/gtest.h>

#include <random>

#include "softcrypto/milenage.h"
#include "softcrypto/software_aes.h"
#include "tests/chip/card_test_util.h"
#include "tests/softcrypto/milenage_vectors.h"
#include "tests/support/osmo_auc_gen.h"
#include "tests/support/status_testing.h"

namespace simkms::chip::testing {
namespace {

using simkms::testing::kMilenageTestSets;
using simkms::testing::MilenageTestSet;

constexpr kms::Amf kAmf{0x80, 0x00};

// The AC's side in software: the same functions the token path is tested equal to.
struct Network {
  SecretBytes key;
  kms::Block opc{};
  Network(const SecretBytes& k, const SecretBytes& op) : key(k) {
    auto aes = kms::SoftwareAes128::Create(key).value();
    kms::Block op_block{};
    std::copy(op.reveal().begin(), op.reveal().end(), op_block.begin());
    opc = kms::ComputeOpc(*aes, op_block).value();
  }
  kms::AuthVector Vector(const kms::Block& rand, uint64_t sqn, kms::Amf amf = kAmf) const {
    auto aes = kms::SoftwareAes128::Create(key).value();
    return kms::GenerateAuthVector(*aes, opc, rand, kms::SqnFromUint64(sqn), amf).value();
  }
  StatusOr<kms::Sqn> Resync(const kms::Block& rand, const kms::Auts& auts) const {
    auto aes = kms::SoftwareAes128::Create(key).value();
    return kms::VerifyAuts(*aes, opc, rand, auts);
  }
};

template <std::size_t N>
std::string H(const std::array<uint8_t, N>& a) {
  return ToHex(ByteView(a.data(), a.size()));
}

std::string ExpectedAuthOk(const kms::AuthVector& v) {
  return "db08" + H(v.xres) + "10" + H(v.ck) + "10" + H(v.ik) + "08" + H(v.kc);
}

class CardAuthTest : public ::testing::Test {
 protected:
  void Start(Card& card) {
    card.PowerOn();
    ASSERT_EQ(Send(card, WithData("00200001", Chv("0000"))).sw, 0x9000);
    SelectUsim(card);
  }
  Response Authenticate(Card& card, const kms::Block& rand, const kms::Block& autn) {
    return Exchange(card, WithData("00880081", AuthData(rand, autn)));
  }
  kms::Block Rand() {
    kms::Block b{};
    for (auto& x : b) x = static_cast<uint8_t>(rng_());
    return b;
  }
  std::mt19937_64 rng_{0x43415244};
};

TEST_F(CardAuthTest, Ts35207TestSetsThroughTheApdus) {
  for (const MilenageTestSet& t : kMilenageTestSets) {
    SCOPED_TRACE(t.name);
    // A chip whose active key is the set's K (as a Ki_2) under the set's OP.
    ChipState s = PrePersonalize(kIccid, kImsi, MncLength::kTwo, 2, kms::Profile::kModern, SecretBytes::Copy(Hex(kK1Hex)),
                                 DhGroupSpec{}, SecretBytes::Copy(Hex(t.op)))
                      .value();
    // The COMMIT brings the key's OPc (the card keeps no OP): the set's OPc.
    ASSERT_OK(InstallKi2(s, SecretBytes::Copy(Hex(t.k)), SecretBytes::Copy(Hex(t.opc)), ""));
    ASSERT_EQ(ToHex(s.active_opc().reveal()), t.opc);
    const uint64_t sqn = kms::SqnToUint64(HexArray<6>(t.sqn));
    // The set's SQN is far above zero: let the card have seen the one before it.
    SqnArray::Entries entries{};
    entries[sqn & SqnArray::kIndMask] = sqn - SqnArray::kSize;
    s.sqn = SqnArray::FromEntries(entries).value();
    Card card(std::move(s), nullptr);
    Start(card);

    Response r = Send(card, WithData("A0880000", Hex(t.rand)));
    EXPECT_EQ(r.sw, 0x9F0C);
    r = Send(card, "A0C000000C");
    EXPECT_EQ(r.sw, 0x9000);
    EXPECT_EQ(r.hex(), std::string(t.sres) + t.kc);
    r = Exchange(card, WithData("00880080", Concat({0x10}, Hex(t.rand))));
    EXPECT_EQ(r.hex(), std::string("04") + t.sres + "08" + t.kc);

    // AUTN = (SQN xor AK) || AMF || MAC-A.
    Bytes autn = Hex(t.sqn);
    const Bytes ak = Hex(t.f5);
    for (int i = 0; i < 6; ++i) autn[i] ^= ak[i];
    autn = Concat(Concat(autn, Hex(t.amf)), Hex(t.f1));
    r = Send(card, WithData("00880081", AuthData(HexArray<16>(t.rand), HexArray<16>(ToHex(autn)))));
    EXPECT_EQ(r.sw, 0x6135);
    r = Send(card, "00C0000035");
    EXPECT_EQ(r.sw, 0x9000);
    EXPECT_EQ(r.hex(), std::string("db08") + t.f2 + "10" + t.f3 + "10" + t.f4 + "08" + t.kc);
    EXPECT_EQ(card.state().sqn.Highest(), sqn);
  }
}

TEST_F(CardAuthTest, FreshVectorsAcceptedReplaysAnsweredWithAutsThatResyncTheAuc) {
  Card card(MakeChip(), nullptr);
  Start(card);
  const Network net(card.state().ki1, SecretBytes::Copy(Hex(kOpHex)));
  // SQN = SEQ || IND as the AC allocates: SEQ 1, IND 0..3; then SEQ 2.
  for (uint64_t sqn : {32u, 33u, 34u, 35u, 64u}) {
    const kms::Block rand = Rand();
    const kms::AuthVector v = net.Vector(rand, sqn);
    const uint64_t before = card.state_generation();
    EXPECT_EQ(Authenticate(card, rand, v.autn).hex(), ExpectedAuthOk(v)) << sqn;
    EXPECT_GT(card.state_generation(), before);
  }
  EXPECT_EQ(card.state().sqn.Highest(), 64u);
  // An out-of-order vector of another IND is still fresh (Annex C array).
  {
    const kms::Block rand = Rand();
    const kms::AuthVector v = net.Vector(rand, 32 + 7);
    EXPECT_EQ(Authenticate(card, rand, v.autn).hex(), ExpectedAuthOk(v));
  }
  // The same vector again, and an older one of IND 0: sync failure with AUTS.
  for (uint64_t stale : {uint64_t{64}, uint64_t{32}}) {
    SCOPED_TRACE(stale);
    const kms::Block rand = Rand();
    const kms::AuthVector v = net.Vector(rand, stale);
    const uint64_t before = card.state_generation();
    Response r = Send(card, WithData("00880081", AuthData(rand, v.autn)));
    EXPECT_EQ(r.sw, 0x6110);
    r = Send(card, "00C0000010");
    ASSERT_EQ(r.sw, 0x9000);
    ASSERT_EQ(r.data.size(), 16u);
    EXPECT_EQ(r.data[0], 0xDC);
    EXPECT_EQ(r.data[1], 0x0E);
    EXPECT_EQ(card.state_generation(), before);  // a refused vector changes nothing
    kms::Auts auts{};
    std::copy(r.data.begin() + 2, r.data.end(), auts.begin());
    // The AuC recovers SQN_MS = the highest SQN the card accepted.
    EXPECT_EQ(kms::SqnToUint64(net.Resync(rand, auts).value()), 64u);
    // Not under another RAND.
    EXPECT_FALSE(net.Resync(Rand(), auts).ok());
  }
  // After the resync the AuC continues above SQN_MS: accepted.
  const kms::Block rand = Rand();
  const kms::AuthVector v = net.Vector(rand, 64 + 32);
  EXPECT_EQ(Authenticate(card, rand, v.autn).hex(), ExpectedAuthOk(v));
}

TEST_F(CardAuthTest, SqnTooFarAheadIsASyncFailure) {
  Card card(MakeChip(), nullptr);
  Start(card);
  const Network net(card.state().ki1, SecretBytes::Copy(Hex(kOpHex)));
  const uint64_t far = (SqnArray::kDelta + 2) << SqnArray::kIndBits;
  const kms::Block rand = Rand();
  Response r = Authenticate(card, rand, net.Vector(rand, far).autn);
  ASSERT_EQ(r.data.size(), 16u);
  EXPECT_EQ(r.data[0], 0xDC);
  kms::Auts auts{};
  std::copy(r.data.begin() + 2, r.data.end(), auts.begin());
  EXPECT_EQ(kms::SqnToUint64(net.Resync(rand, auts).value()), 0u);
  // Within Δ: fine.
  const kms::Block rand2 = Rand();
  const kms::AuthVector ok = net.Vector(rand2, SqnArray::kDelta << SqnArray::kIndBits);
  EXPECT_EQ(Authenticate(card, rand2, ok.autn).hex(), ExpectedAuthOk(ok));
}

TEST_F(CardAuthTest, AutsIsAcceptedByOsmoAucGen) {
  std::optional<std::filesystem::path> tool = simkms::testing::FindOsmoAucGen();
  if (!tool) GTEST_SKIP() << "osmo-auc-gen (libosmocore-utils) not on PATH";
  Card card(MakeChip(), nullptr);
  Start(card);
  const Network net(card.state().ki1, SecretBytes::Copy(Hex(kOpHex)));
  const uint64_t accepted = (uint64_t{123456} << 5) | 9;
  kms::Block rand = Rand();
  ASSERT_EQ(Authenticate(card, rand, net.Vector(rand, accepted).autn).data[0], 0xDB);
  rand = Rand();
  Response r = Authenticate(card, rand, net.Vector(rand, accepted).autn);  // replay
  ASSERT_EQ(r.data.size(), 16u);
  ASSERT_EQ(r.data[0], 0xDC);
  const std::string args = "-3 -a MILENAGE -k " + ToHex(net.key.reveal()) + " -o " + H(net.opc) + " -r " +
                           H(rand) + " -A " + ToHex(ByteView(r.data).subspan(2));
  simkms::testing::OsmoAucGenResult out = simkms::testing::RunOsmoAucGen(*tool, args);
  EXPECT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(out.fields["SQN.MS"], std::to_string(accepted)) << out.output;
  // A flipped bit of MAC-S: osmo-auc-gen refuses it too.
  Bytes bad = Bytes(r.data.begin() + 2, r.data.end());
  bad[13] ^= 0x01;
  out = simkms::testing::RunOsmoAucGen(*tool, "-3 -a MILENAGE -k " + ToHex(net.key.reveal()) + " -o " +
                                                  H(net.opc) + " -r " + H(rand) + " -A " + ToHex(bad));
  EXPECT_NE(out.exit_code, 0) << out.output;
}

TEST_F(CardAuthTest, MacFailureChangesNothing) {
  Card card(MakeChip(), nullptr);
  Start(card);
  const Network net(card.state().ki1, SecretBytes::Copy(Hex(kOpHex)));
  const kms::Block rand = Rand();
  const kms::AuthVector v = net.Vector(rand, 32);
  for (std::size_t byte : {0u, 5u, 6u, 7u, 8u, 15u}) {  // SQN^AK, AMF, MAC-A
    kms::Block autn = v.autn;
    autn[byte] ^= 0x20;
    EXPECT_EQ(Send(card, WithData("00880081", AuthData(rand, autn))).sw, 0x9862) << byte;
  }
  kms::Block other_rand = rand;
  other_rand[0] ^= 1;
  EXPECT_EQ(Send(card, WithData("00880081", AuthData(other_rand, v.autn))).sw, 0x9862);
  // Another subscriber's key.
  const Network other(SecretBytes::Copy(Hex("00112233445566778899aabbccddeeff")), SecretBytes::Copy(Hex(kOpHex)));
  EXPECT_EQ(Send(card, WithData("00880081", AuthData(rand, other.Vector(rand, 32).autn))).sw, 0x9862);
  EXPECT_EQ(card.state_generation(), 0u + 1);  // only the VERIFY
  EXPECT_EQ(card.state().sqn.Highest(), 0u);
  // Malformed data objects.
  Bytes d = AuthData(rand, v.autn);
  d[0] = 0x11;
  EXPECT_EQ(Send(card, WithData("00880081", d)).sw, 0x6A80);
  d = AuthData(rand, v.autn);
  d[17] = 0x0F;
  EXPECT_EQ(Send(card, WithData("00880081", d)).sw, 0x6A80);
  EXPECT_EQ(Send(card, WithData("00880080", Concat({0x0F}, Bytes(16, 0)))).sw, 0x6A80);
  // And the genuine vector still works.
  EXPECT_EQ(Authenticate(card, rand, v.autn).hex(), ExpectedAuthOk(v));
}

TEST_F(CardAuthTest, GsmAlgorithmRunsUnderTheActiveKey) {
  ChipState s = MakeChip();
  const SecretBytes ki2 = SecretBytes::Copy(Hex("0f0e0d0c0b0a09080706050403020100"));
  const kms::Block rand = Rand();
  auto run = [&](ChipState state) {
    Card card(std::move(state), nullptr);
    Start(card);
    return Exchange(card, WithData("A0880000", Bytes(rand.begin(), rand.end()))).hex();
  };
  const SecretBytes op = SecretBytes::Copy(Hex(kOpHex));
  const Network under_ki1(s.ki1, op), under_ki2(ki2, op);
  const kms::AuthVector v1 = under_ki1.Vector(rand, 32), v2 = under_ki2.Vector(rand, 32);
  EXPECT_EQ(run(s), H(v1.sres) + H(v1.kc));
  ASSERT_OK(InstallKi2(s, ki2, SecretBytes::Copy(under_ki2.opc), ""));
  EXPECT_EQ(run(s), H(v2.sres) + H(v2.kc));
}

class PendingKeyTest : public CardAuthTest {
 protected:
  PendingKeyTest() {
    ChipState s = MakeChip();
    PendingKey p;
    p.ki2 = SecretBytes::Copy(Hex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"));
    p.k_confirm = SecretBytes::Copy(Hex("b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"));
    p.puk = SecretBytes::Copy(AsBytes("31415926"));
    s.pending = std::move(p);
    card_ = std::make_unique<Card>(std::move(s), nullptr);
    Start(*card_);
  }
  std::unique_ptr<Card> card_;
};

// A pending Ki_2' (COMMIT not seen) is not committed by an AUTN under it: the
// card has no OPc for it (the COMMIT brings it; the card keeps no OP), so it
// cannot check such an AUTN and answers it as a MAC failure, keeping Ki_1 and
// the pending key; the next HELLO's resync proof recovers (docs/protocol.md §6).
TEST_F(PendingKeyTest, AutnUnderThePendingKeyFailsUntilTheCommitBringsItsOpc) {
  const Card& card = *card_;
  const SecretBytes op = SecretBytes::Copy(Hex(kOpHex));
  // Vectors under Ki_1 still work, and keep the pending key.
  const Network ki1(card.state().ki1, op);
  kms::Block rand = Rand();
  kms::AuthVector v = ki1.Vector(rand, 32 * 5);
  EXPECT_EQ(Authenticate(*card_, rand, v.autn).hex(), ExpectedAuthOk(v));
  ASSERT_TRUE(card.state().pending.has_value());
  // The network under the SC's committed Ki_2 (the COMMIT was lost): MAC failure, nothing changes.
  const Network ki2(card.state().pending->ki2, op);
  rand = Rand();
  const uint64_t before = card.state_generation();
  EXPECT_EQ(Send(*card_, WithData("00880081", AuthData(rand, ki2.Vector(rand, 32).autn))).sw, 0x9862);
  EXPECT_EQ(card.state_generation(), before);
  ASSERT_TRUE(card.state().pending.has_value());
  EXPECT_EQ(card.state().active_key, ActiveKey::kKi1);
  EXPECT_TRUE(card.state().ki2.empty());
  EXPECT_TRUE(card.state().ki2_opc.empty());
  // Ki_1 vectors keep working meanwhile.
  rand = Rand();
  v = ki1.Vector(rand, 32 * 6);
  EXPECT_EQ(Authenticate(*card_, rand, v.autn).hex(), ExpectedAuthOk(v));
}

}  // namespace
}  // namespace simkms::chip::testing
