// The patent's three misuse cases against the real kmsd (docs/lifecycle.md, misuse 1.1-1.3):
// an unknown or uncontracted chip is refused and nothing is created; a Ki_1 copy
// calling after personalization raises the clone alarm (audited, no answer) and
// the genuine chip keeps working; a wrong activation code costs one of a bounded
// number of tries, then the subscriber is LOCKED and even the right code fails.
#include <gtest/gtest.h>

#include "tests/e2e/kmsd_fixture.h"
#include "tests/support/ki1_packets.h"
#include "tests/support/status_testing.h"

namespace simkms::e2e {
namespace {

using Kind = protocol::ChipOutcome::Kind;

class KmsdMisuseTest : public KmsdFixture {
 protected:
  static protocol::ChipRole Keypad(const std::string& code) {
    return protocol::ChipRole([code]() -> StatusOr<std::string> { return code; });
  }
  // Sends `m` under Ki_1 (a copy of the chip made before its first call) with
  // CNTR `counter`; the answer, if any came within a second.
  std::optional<Bytes> SendUnderKi1(const std::string& imsi, const protocol::ChipProtocolState& ki1_copy,
                                    uint64_t counter, const protocol::Message& m) {
    StatusOr<Bytes> packet = simkms::testing::SealUnderKi1(ki1_copy, counter, m);
    EXPECT_OK(packet);
    return packet.ok() ? ChipExchange(imsi, *packet, 1000) : std::nullopt;
  }
};

TEST_F(KmsdMisuseTest, UnknownImsiAndUncontractedChipAreRefusedAndNothingIsCreated) {
  const std::string genuine = ContractChip(0);
  const long audit = AuditRecords();
  ASSERT_GT(audit, 0);
  protocol::ChipRole role = Keypad("");
  // In the range but not contracted, and outside every range.
  for (const char* imsi_text : {"001019876500007", "001019999900001"}) {
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

// Issue 10, finding 2: one packet under Ki_1 with CNTR 2^40-1 (a CONFIRM
// without a session, and a re-key HELLO) for a PERSONALIZED subscriber. It
// raises the clone alarm, audited, and the genuine chip still re-keys.
TEST_F(KmsdMisuseTest, OneKiOnePacketWithTheLastCounterDoesNotLockTheGenuineChipOut) {
  const std::string imsi = ContractChip(0);
  protocol::ChipRole role = Keypad("");
  protocol::ChipProtocolState genuine = MakeChip(imsi);
  const protocol::ChipProtocolState copy = MakeChip(imsi);
  ASSERT_EQ(RunCall(genuine, role).kind, Kind::kCommitted);
  const long audit = AuditRecords();
  EXPECT_FALSE(SendUnderKi1(imsi, copy, protocol::kMaxCounter, protocol::Confirm{}).has_value());
  StatusOr<protocol::Hello> rekey = simkms::testing::NextKi1Hello(copy);
  ASSERT_OK(rekey);
  rekey->kind = protocol::SessionKind::kRekey;
  EXPECT_FALSE(SendUnderKi1(imsi, copy, protocol::kMaxCounter - 1, *rekey).has_value());
  EXPECT_EQ(ChipOutcomes("clone_alarm"), 1) << Http("GET", "/metrics").body;
  EXPECT_EQ(ChipOutcomes("clone_alarm_suppressed"), 1);  // the second within the rate-limit interval
  EXPECT_EQ(AuditRecords(), audit + 1);
  ASSERT_EQ(Http("POST", "/v1/subscribers/" + imsi + "/rekey").status, 200);
  EXPECT_EQ(RunCall(genuine, role).kind, Kind::kCommitted);
}

// Issue 10, finding 3: a captured clone packet sent five times is one alarm
// and one audit record; the replays are counted, not audited.
TEST_F(KmsdMisuseTest, FiveReplaysOfACapturedClonePacketGiveOneAlarmRecord) {
  const std::string imsi = ContractChip(0);
  protocol::ChipRole role = Keypad("");
  protocol::ChipProtocolState genuine = MakeChip(imsi);
  protocol::ChipProtocolState clone = MakeChip(imsi);
  ASSERT_EQ(RunCall(genuine, role).kind, Kind::kCommitted);
  clone.counter_out = genuine.counter_out + 100;
  const Bytes captured = role.Start(clone).value();
  const long audit = AuditRecords();
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(ChipExchange(imsi, captured, 1000).has_value()) << i;
  EXPECT_EQ(ChipOutcomes("clone_alarm"), 1) << Http("GET", "/metrics").body;
  EXPECT_EQ(ChipOutcomes("clone_alarm_duplicate"), 4);
  EXPECT_EQ(AuditRecords(), audit + 1);
}

// Distinct clone packets: one audited alarm per subscriber per interval, the
// rest counted in the metric (and carried into the next audited alarm).
TEST_F(KmsdMisuseTest, DistinctClonePacketsAreRateLimitedPerSubscriber) {
  const std::string imsi = ContractChip(0);
  const std::string other = ContractChip(1);
  protocol::ChipRole role = Keypad("");
  protocol::ChipProtocolState genuine = MakeChip(imsi);
  protocol::ChipProtocolState other_genuine = MakeChip(other);
  const protocol::ChipProtocolState copy = MakeChip(imsi);
  const protocol::ChipProtocolState other_copy = MakeChip(other);
  ASSERT_EQ(RunCall(genuine, role).kind, Kind::kCommitted);
  ASSERT_EQ(RunCall(other_genuine, role).kind, Kind::kCommitted);
  StatusOr<protocol::Hello> hello = simkms::testing::NextKi1Hello(copy);
  StatusOr<protocol::Hello> other_hello = simkms::testing::NextKi1Hello(other_copy);
  ASSERT_TRUE(hello.ok() && other_hello.ok());
  const long audit = AuditRecords();
  for (uint64_t counter = 1000; counter < 1004; ++counter) {
    EXPECT_FALSE(SendUnderKi1(imsi, copy, counter, *hello).has_value()) << counter;
  }
  // The limit is per subscriber: another subscriber's first alarm is audited.
  EXPECT_FALSE(SendUnderKi1(other, other_copy, 1000, *other_hello).has_value());
  EXPECT_EQ(ChipOutcomes("clone_alarm"), 2) << Http("GET", "/metrics").body;
  EXPECT_EQ(ChipOutcomes("clone_alarm_suppressed"), 3);
  EXPECT_EQ(AuditRecords(), audit + 2);
  EXPECT_NE(SubscriberSnapshot(imsi).find("\"state\":\"PERSONALIZED\""), std::string::npos);
}

// Issue 10, finding 1 (the part about counters): after a Ki_1 holder took the
// first call of a contract without an activation code with a high counter,
// the genuine chip's HELLOs are behind Ki_1's counter. They are not dropped
// silently as replays: they raise the clone alarm.
TEST_F(KmsdMisuseTest, TheGenuineChipBehindAHijackedFirstCallRaisesTheAlarm) {
  const std::string imsi = ContractChip(0);
  protocol::ChipRole role = Keypad("");
  protocol::ChipProtocolState genuine = MakeChip(imsi);
  protocol::ChipProtocolState hijacker = MakeChip(imsi);
  hijacker.counter_out = uint64_t{1} << 30;
  ASSERT_EQ(RunCall(hijacker, role).kind, Kind::kCommitted);
  const long audit = AuditRecords();
  EXPECT_FALSE(ChipExchange(imsi, role.Start(genuine).value(), 1000).has_value());
  EXPECT_EQ(ChipOutcomes("clone_alarm"), 1) << Http("GET", "/metrics").body;
  EXPECT_EQ(AuditRecords(), audit + 1);
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

// VER 2 at the default policy: an activation code is required for every new contract.
class KmsdCodePolicyTest : public KmsdMisuseTest {
 protected:
  void SetUp() override {
    relax_activation_code_policy_ = false;
    KmsdMisuseTest::SetUp();
  }
};

// Issue 10: a contract without an activation code was hijacked outright by a
// first call under Ki_1, which anyone holding K1 (a leaked export, or K1 read
// from an extracted card as it was) computes. By default such a contract is
// refused, so the K1 holder's HELLO finds no record; with a code, it is
// answered only with a demand for the code it does not have.
TEST_F(KmsdCodePolicyTest, ContractWithoutCodeIsRefusedByDefaultSoAKOneHolderCannotHijackIt) {
  const long audit = AuditRecords();
  HttpResult refused = Http("POST", "/v1/contracts", std::string("{\"order_id\":\"o-1\",\"iccid\":\"") + kIccid0 + "\"}");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("\"FAILED_PRECONDITION\""), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("VER 2 requires an activation code for every new contract"), std::string::npos)
      << refused.body;
  EXPECT_EQ(Http("GET", std::string("/v1/subscribers/") + kImsi0).status, 404);
  EXPECT_EQ(AuditRecords(), audit);

  // The K1 holder: Ki_1 computed from K1 and the IMSI, a counter far ahead of the genuine chip's.
  protocol::ChipProtocolState attacker = MakeChip(kImsi0);
  attacker.counter_out = 1000;
  protocol::ChipRole attacker_role = Keypad("000000");
  EXPECT_FALSE(ChipExchange(kImsi0, attacker_role.Start(attacker).value(), 1000).has_value());
  EXPECT_EQ(Http("GET", std::string("/v1/subscribers/") + kImsi0).status, 404);

  // The same contract with the code printed on the order document: the K1 holder gets no Ki_2.
  const std::string imsi = ContractChip(0, "271828");
  ASSERT_EQ(imsi, kImsi0);
  protocol::ChipOutcome out = RunCall(attacker, attacker_role);
  ASSERT_EQ(out.kind, Kind::kRejected);
  ASSERT_TRUE(out.error.has_value());
  EXPECT_EQ(out.error->code, protocol::ErrorCode::kWrongActivationCode);
  EXPECT_NE(SubscriberSnapshot(imsi).find("\"state\":\"CONTRACTED\""), std::string::npos) << SubscriberSnapshot(imsi);
  EXPECT_NE(SubscriberSnapshot(imsi).find("\"ki2_kcv\":\"\""), std::string::npos) << SubscriberSnapshot(imsi);
}

// The relaxation is explicit, per VER, and audited; then a code-less contract is accepted.
TEST_F(KmsdCodePolicyTest, RelaxingTheVerPolicyIsAuditedAndThenAllowsContractsWithoutCode) {
  const long audit = AuditRecords();
  StopKmsd();
  ProcessResult relax = Kmsctl({"ver", "policy", "--ver", "2", "--activation-code", "optional"});
  ASSERT_EQ(relax.exit_code, 0) << relax.err << relax.out;
  EXPECT_NE(relax.out.find("contracts without an activation code allowed"), std::string::npos) << relax.out;
  StartKmsd();
  // ver.policy, then the restarted kmsd's kmsd.start.
  EXPECT_EQ(AuditRecords(), audit + 2);
  const std::string trail =
      Kmsctl({"--admin-socket", (token_.dir() / "admin.sock").string(), "--json", "audit", "show"}).out;
  EXPECT_NE(trail.find("\"ver.policy\""), std::string::npos) << trail;
  EXPECT_NE(trail.find("a K1 holder takes over the first call of a contract without code"), std::string::npos)
      << "the record names what the relaxation costs";
  EXPECT_EQ(Http("POST", "/v1/contracts", std::string("{\"order_id\":\"o-1\",\"iccid\":\"") + kIccid0 + "\"}").status,
            201);
  ProcessResult bad = Kmsctl({"ver", "policy", "--ver", "2", "--activation-code", "sometimes"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
}

}  // namespace
}  // namespace simkms::e2e
