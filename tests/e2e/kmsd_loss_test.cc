// Each first-call and re-key message lost once, in each direction, against the
// real kmsd (docs/protocol.md §6): the chip and the AC end with the same key
// and the next call succeeds. A lost uplink message (HELLO, CONFIRM) is one the
// SC never sees; a lost downlink message (CHALLENGE, COMMIT) is one the SC sent
// and the chip never acts on.
#include <gtest/gtest.h>

#include "softcrypto/software_keys.h"
#include "tests/e2e/kmsd_fixture.h"

namespace simkms::e2e {
namespace {

using Kind = protocol::ChipOutcome::Kind;

enum class Lost { kHello, kChallenge, kConfirm, kCommit };
constexpr Lost kAllLosses[] = {Lost::kHello, Lost::kChallenge, Lost::kConfirm, Lost::kCommit};

class KmsdLossTest : public KmsdFixture {
 protected:
  // One call in which `lost` goes missing, then the chip's retry; both sides must agree.
  void CallLosingOnce(protocol::ChipProtocolState& chip, Lost lost) {
    SCOPED_TRACE("lost message " + std::to_string(static_cast<int>(lost)) + ", " +
                 (chip.personalized ? "re-key" : "first call") + " of " + chip.imsi);
    Bytes hello = role_.Start(chip).value();
    if (lost != Lost::kHello) {
      auto challenge = ChipExchange(chip.imsi, hello);
      ASSERT_TRUE(challenge.has_value());
      if (lost != Lost::kChallenge) {
        auto confirm = role_.OnPacket(chip, *challenge).value();
        ASSERT_EQ(confirm.kind, Kind::kSendPacket);
        if (lost == Lost::kCommit) {
          auto commit = ChipExchange(chip.imsi, confirm.packet);
          ASSERT_TRUE(commit.has_value());  // the SC committed; the chip never hears it
        }
      }
    }
    // The chip calls again (with a resync proof when it holds a pending key).
    protocol::ChipOutcome done = RunCall(chip, role_);
    if (done.kind == Kind::kSendPacket) done = RunCall(chip, role_);
    ASSERT_EQ(done.kind, Kind::kCommitted) << kmsd_log();
    if (!done.new_ki2.empty()) {
      EXPECT_NE(SubscriberSnapshot(chip.imsi).find(ToHex(kms::SoftwareAesKcv(done.new_ki2).value())),
                std::string::npos)
          << SubscriberSnapshot(chip.imsi);
    }
    EXPECT_NE(SubscriberSnapshot(chip.imsi).find("\"hotline\":false"), std::string::npos);
  }
  protocol::ChipRole role_{[]() -> StatusOr<std::string> { return std::string("271828"); }};
};

TEST_F(KmsdLossTest, EveryFirstCallAndRekeyMessageLostOnceEachWay) {
  std::vector<protocol::ChipProtocolState> chips;
  for (int n = 0; n < 4; ++n) chips.push_back(MakeChip(ContractChip(n)));
  for (int i = 0; i < 4; ++i) CallLosingOnce(chips[i], kAllLosses[i]);
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(Http("POST", "/v1/subscribers/" + chips[i].imsi + "/rekey").status, 200);
    CallLosingOnce(chips[i], kAllLosses[i]);
  }
  // And each next call (another re-key) succeeds at once.
  for (auto& chip : chips) {
    ASSERT_EQ(Http("POST", "/v1/subscribers/" + chip.imsi + "/rekey").status, 200);
    ASSERT_EQ(RunCall(chip, role_).kind, Kind::kCommitted);
  }
  EXPECT_GT(AuditRecords(), 0);
}

}  // namespace
}  // namespace simkms::e2e
