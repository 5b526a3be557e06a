// kmsd killed with SIGKILL between every pair of protocol steps (and once in the
// middle of one), first call and re-key, then restarted on the same token and DB
// without a new ceremony: the chip and the AC never diverge (the chip's key's
// KCV is the one kmsd reports), the next call succeeds, and the audit chain
// verifies (docs/protocol.md §6).
#include <gtest/gtest.h>

#include "softcrypto/software_keys.h"
#include "tests/e2e/kmsd_fixture.h"

namespace simkms::e2e {
namespace {

using Kind = protocol::ChipOutcome::Kind;

// Where kmsd dies: before HELLO, after CHALLENGE (the SC's session is in memory
// only), after COMMIT left the SC (committed in the DB, the chip has not seen
// it), after the chip installed the key, and while the SC handles CONFIRM.
enum class KillAt { kBeforeHello, kAfterChallenge, kAfterCommitSent, kAfterChipCommitted, kDuringConfirm };
constexpr KillAt kAllPoints[] = {KillAt::kBeforeHello, KillAt::kAfterChallenge, KillAt::kAfterCommitSent,
                                 KillAt::kAfterChipCommitted, KillAt::kDuringConfirm};

class KmsdCrashTest : public KmsdFixture {
 protected:
  void Restart() {
    KillKmsd();
    StartKmsd();
  }
  // The chip's side of a call in which kmsd is killed at `at`; then the chip
  // calls until the key is in force on both sides.
  void CallKilledAt(protocol::ChipProtocolState& chip, KillAt at) {
    SCOPED_TRACE("kill point " + std::to_string(static_cast<int>(at)) + ", " +
                 (chip.personalized ? "re-key" : "first call") + " of " + chip.imsi);
    SecretBytes installed;
    if (at == KillAt::kBeforeHello) Restart();
    if (at != KillAt::kBeforeHello) {
      auto challenge = ChipExchange(chip.imsi, role_.Start(chip).value());
      ASSERT_TRUE(challenge.has_value()) << kmsd_log();
      auto confirm = role_.OnPacket(chip, *challenge).value();
      ASSERT_EQ(confirm.kind, Kind::kSendPacket);
      if (at == KillAt::kAfterChallenge) {
        Restart();
        // The CONFIRM meets no session: ERROR (unknown session), nothing applied.
        auto answer = ChipExchange(chip.imsi, confirm.packet);
        ASSERT_TRUE(answer.has_value());
        auto rejected = role_.OnPacket(chip, *answer).value();
        EXPECT_EQ(rejected.kind, Kind::kRejected);
        ASSERT_TRUE(rejected.error.has_value());
        EXPECT_EQ(rejected.error->code, protocol::ErrorCode::kUnknownSession);
      } else if (at == KillAt::kDuringConfirm) {
        ChipExchange(chip.imsi, confirm.packet, 1);  // no waiting: dies while (or before) committing
        Restart();
      } else {
        auto commit = ChipExchange(chip.imsi, confirm.packet);
        ASSERT_TRUE(commit.has_value());
        if (at == KillAt::kAfterChipCommitted) {
          auto done = role_.OnPacket(chip, *commit).value();
          ASSERT_EQ(done.kind, Kind::kCommitted);
          installed = std::move(done.new_ki2);
        }
        Restart();
      }
    }
    if (installed.empty()) {
      protocol::ChipOutcome done = RunCall(chip, role_);
      if (done.kind != Kind::kCommitted) done = RunCall(chip, role_);
      ASSERT_EQ(done.kind, Kind::kCommitted) << kmsd_log();
      installed = std::move(done.new_ki2);
    }
    const std::string snapshot = SubscriberSnapshot(chip.imsi);
    EXPECT_NE(snapshot.find(ToHex(kms::SoftwareAesKcv(installed).value())), std::string::npos) << snapshot;
    EXPECT_NE(snapshot.find("\"hotline\":false"), std::string::npos) << snapshot;
  }
  protocol::ChipRole role_{[]() -> StatusOr<std::string> { return std::string("271828"); }};
};

TEST_F(KmsdCrashTest, KilledBetweenEveryPairOfStepsNeverSplitsTheKeys) {
  std::vector<protocol::ChipProtocolState> chips;
  for (int n = 0; n < 5; ++n) chips.push_back(MakeChip(ContractChip(n)));
  for (int i = 0; i < 5; ++i) CallKilledAt(chips[i], kAllPoints[i]);
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(Http("POST", "/v1/subscribers/" + chips[i].imsi + "/rekey").status, 200);
    CallKilledAt(chips[i], kAllPoints[i]);
  }
  // Killed after the operator's request, before any chip step: the request survives.
  ASSERT_EQ(Http("POST", "/v1/subscribers/" + chips[0].imsi + "/rekey").status, 200);
  Restart();
  EXPECT_NE(SubscriberSnapshot(chips[0].imsi).find("REKEY_PENDING"), std::string::npos);
  // Every chip makes its next call at once.
  for (auto& chip : chips) {
    if (chip.imsi != chips[0].imsi) {
      ASSERT_EQ(Http("POST", "/v1/subscribers/" + chip.imsi + "/rekey").status, 200);
    }
    ASSERT_EQ(RunCall(chip, role_).kind, Kind::kCommitted);
  }
  EXPECT_GT(AuditRecords(), 0);
  ASSERT_EQ(StopKmsd(), 0) << kmsd_log();
  ProcessResult verify = Kmsctl({"audit", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

}  // namespace
}  // namespace simkms::e2e
