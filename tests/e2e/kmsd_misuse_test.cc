// The patent's three misuse cases against the real kmsd (MISSION 1.1-1.3):
// an unknown or uncontracted chip is refused and nothing is created; a Ki_1 copy
// calling after personalization raises the clone alarm (audited, no answer) and
// the genuine chip keeps working; a wrong activation code costs one of a bounded
// number of tries, then the subscriber is LOCKED and even the right code fails.
#include <gtest/gtest.h>

#include "tests/e2e/kmsd_fixture.h"

namespace simkms::e2e {
namespace {

using Kind = protocol::ChipOutcome::Kind;

class KmsdMisuseTest : public KmsdFixture {
 protected:
  static protocol::ChipRole Keypad(const std::string& code) {
    return protocol::ChipRole([code]() -> StatusOr<std::string> { return code; });
  }
};

TEST_F(KmsdMisuseTest, UnknownImsiAndUncontractedChipAreRefusedAndNothingIsCreated) {
  const std::string genuine = ContractChip(0);
  const long audit = AuditRecords();
  ASSERT_GT(audit, 0);
  protocol::ChipRole role = Keypad("");
  // In the range but not contracted, and outside every range.
  for (const char* imsi_text : {"262019876500007", "262019999900001"}) {
    const std::string imsi = imsi_text;
    protocol::ChipProtocolState chip = MakeChip(imsi);
    EXPECT_FALSE(ChipExchange(imsi, role.Start(chip).value(), 1000).has_value()) << imsi;
    EXPECT_EQ(Http("GET", "/v1/subscribers/" + imsi).status, 404) << imsi;
  }
  EXPECT_EQ(ChipOutcomes("error_NOT_FOUND"), 2) << Http("GET", "/metrics").body;
  EXPECT_EQ(AuditRecords(), audit);
  protocol::ChipProtocolState chip = MakeChip(genuine);
  EXPECT_EQ(RunCall(chip, role).kind, Kind::kCommitted);
}

TEST_F(KmsdMisuseTest, KiOneCopyCallingAfterPersonalizationRaisesTheCloneAlarm) {
  const std::string imsi = ContractChip(0);
  protocol::ChipRole role = Keypad("");
  protocol::ChipProtocolState genuine = MakeChip(imsi);
  // The clone: Ki_1 copied from the chip before its first call.
  protocol::ChipProtocolState clone = MakeChip(imsi);
  ASSERT_EQ(RunCall(genuine, role).kind, Kind::kCommitted);
  const std::string before = SubscriberSnapshot(imsi);
  const long audit = AuditRecords();
  // The clone's counter is ahead of anything seen (a clone cannot know, so it guesses high).
  clone.counter_out = genuine.counter_out + 100;
  protocol::ChipRole clone_role = Keypad("");
  EXPECT_FALSE(ChipExchange(imsi, clone_role.Start(clone).value(), 1000).has_value());  // no answer to a clone
  EXPECT_EQ(ChipOutcomes("clone_alarm"), 1);
  EXPECT_EQ(AuditRecords(), audit + 1);  // subscriber.clone-suspected
  const std::string after = SubscriberSnapshot(imsi);
  EXPECT_EQ(after.substr(0, after.find("\"updated_at\"")), before.substr(0, before.find("\"updated_at\"")));
  // The genuine chip (under Ki_2) still re-keys.
  ASSERT_EQ(Http("POST", "/v1/subscribers/" + imsi + "/rekey").status, 200);
  EXPECT_EQ(RunCall(genuine, role).kind, Kind::kCommitted);
}

TEST_F(KmsdMisuseTest, WrongActivationCodeCostsBoundedTriesThenLocked) {
  const std::string imsi = ContractChip(0, "271828");
  protocol::ChipProtocolState chip = MakeChip(imsi);
  protocol::ChipRole wrong = Keypad("000000");
  for (int tries_left = 2; tries_left >= 0; --tries_left) {
    SCOPED_TRACE("tries left " + std::to_string(tries_left));
    protocol::ChipOutcome out = RunCall(chip, wrong);
    ASSERT_EQ(out.kind, Kind::kRejected);
    ASSERT_TRUE(out.error.has_value());
    if (tries_left > 0) {
      EXPECT_EQ(out.error->code, protocol::ErrorCode::kWrongActivationCode);
      EXPECT_EQ(out.error->tries_left, std::optional<uint8_t>(tries_left));
      EXPECT_NE(SubscriberSnapshot(imsi).find("CONTRACTED"), std::string::npos);
    }
  }
  EXPECT_NE(SubscriberSnapshot(imsi).find("\"state\":\"LOCKED\""), std::string::npos) << SubscriberSnapshot(imsi);
  EXPECT_EQ(ChipOutcomes("locked"), 1);
  // Even the right code no longer helps: the SC refuses the HELLO.
  protocol::ChipRole right = Keypad("271828");
  auto answer = ChipExchange(imsi, right.Start(chip).value());
  ASSERT_TRUE(answer.has_value());
  protocol::ChipOutcome refused = right.OnPacket(chip, *answer).value();
  ASSERT_EQ(refused.kind, Kind::kRejected);
  EXPECT_NE(refused.error->code, protocol::ErrorCode::kWrongActivationCode);
  EXPECT_NE(SubscriberSnapshot(imsi).find("\"state\":\"LOCKED\""), std::string::npos);
}

}  // namespace
}  // namespace simkms::e2e
