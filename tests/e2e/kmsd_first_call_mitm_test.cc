// Issue 10, finding 1, against the real kmsd: a man in the middle of a genuine
// first call who holds Ki_1 (a leaked K1, an extracted card of the VER) swaps
// both DH shares, searches the activation code offline on the chip's CONFIRM
// and answers the SC with a proof. The code's blinding of the SC's share
// (docs/protocol.md §5.1) leaves it nothing to test offline: each attempt is one
// online guess, costs one try, and LOCKED ends it; the genuine chip still
// completes while tries remain.
#include <gtest/gtest.h>

#include "tests/e2e/kmsd_fixture.h"
#include "tools/chipsim/ki_holder_proxy.h"
#include "tests/support/status_testing.h"

namespace simkms::e2e {
namespace {

using Kind = protocol::ChipOutcome::Kind;
using chip::KiHolderProxy;

constexpr char kCode[] = "314159";

class KmsdFirstCallMitmTest : public KmsdFixture {
 protected:
  // One attempt of the proxy in the middle of the genuine chip's first call:
  // returns the SC's answer to the forged CONFIRM, opened, and what the offline
  // search found.
  struct Attempt {
    std::vector<std::string> found;
    std::optional<protocol::Message> answer;
  };
  Attempt Intercept(protocol::ChipProtocolState& chip, protocol::ChipRole& role) {
    Attempt a;
    KiHolderProxy proxy = KiHolderProxy::Create(chip.imsi, chip.base_key, chip.group, chip.opc).value();
    auto challenge = ChipExchange(chip.imsi, proxy.ForgeHello(role.Start(chip).value()).value());
    EXPECT_TRUE(challenge.has_value()) << "no CHALLENGE for the forged HELLO";
    if (!challenge) return a;
    auto confirm = role.OnPacket(chip, proxy.ForgeChallenge(*challenge).value());
    EXPECT_OK(confirm);
    if (!confirm.ok() || confirm->kind != Kind::kSendPacket) return a;
    // A slice of the 10^6 codes around the true one (chipsim's
    // --ki-holder-in-the-middle searches all of them: chipsim_e2e_test).
    a.found = proxy.SearchCode(confirm->packet, chip::SixDigitCodes(300000, 20000)).value();
    auto answer = ChipExchange(chip.imsi, proxy.ForgeConfirm(a.found.empty() ? "000000" : a.found.front()).value());
    EXPECT_TRUE(answer.has_value()) << "no answer to the forged CONFIRM";
    if (answer) a.answer = proxy.OpenAnswer(*answer).value();
    return a;
  }

  static protocol::ChipRole Keypad() {
    return protocol::ChipRole([]() -> StatusOr<std::string> { return std::string(kCode); });
  }
};

TEST_F(KmsdFirstCallMitmTest, OneWrongGuessCostsOneTryAndTheGenuineChipStillCompletes) {
  const std::string imsi = ContractChip(0, kCode);
  protocol::ChipProtocolState chip = MakeChip(imsi);
  protocol::ChipRole role = Keypad();

  Attempt attempt = Intercept(chip, role);
  EXPECT_TRUE(attempt.found.empty()) << "the code was tested offline: " << attempt.found.front();
  ASSERT_TRUE(attempt.answer.has_value());
  ASSERT_TRUE(std::holds_alternative<protocol::Error>(*attempt.answer)) << "the SC did not refuse the forged CONFIRM";
  const auto& error = std::get<protocol::Error>(*attempt.answer);
  EXPECT_EQ(error.code, protocol::ErrorCode::kWrongActivationCode);
  EXPECT_EQ(error.tries_left, std::optional<uint8_t>(2));
  // The subscriber as the operator API shows it (SubscriberSnapshot leaves the tries out).
  const std::string subscriber = Http("GET", "/v1/subscribers/" + imsi).body;
  EXPECT_NE(subscriber.find("\"activation_tries_left\":2"), std::string::npos) << subscriber;
  EXPECT_NE(subscriber.find("\"state\":\"CONTRACTED\""), std::string::npos) << subscriber;
  EXPECT_GT(AuditRecords(), 0);  // audit verify passes

  // The genuine chip, with the right code, completes its first call afterwards.
  protocol::ChipOutcome done = RunCall(chip, role);
  EXPECT_EQ(done.kind, Kind::kCommitted);
  EXPECT_NE(SubscriberSnapshot(imsi).find("\"state\":\"PERSONALIZED\""), std::string::npos);
}

TEST_F(KmsdFirstCallMitmTest, EveryAttemptIsOneCountedGuessUntilLocked) {
  const std::string imsi = ContractChip(0, kCode);
  protocol::ChipProtocolState chip = MakeChip(imsi);
  protocol::ChipRole role = Keypad();
  for (int tries_left = 2; tries_left >= 0; --tries_left) {
    SCOPED_TRACE("tries left " + std::to_string(tries_left));
    Attempt attempt = Intercept(chip, role);
    EXPECT_TRUE(attempt.found.empty());
    ASSERT_TRUE(attempt.answer.has_value());
    ASSERT_TRUE(std::holds_alternative<protocol::Error>(*attempt.answer));
    if (tries_left > 0) {
      EXPECT_EQ(std::get<protocol::Error>(*attempt.answer).tries_left, std::optional<uint8_t>(tries_left));
    }
  }
  EXPECT_NE(SubscriberSnapshot(imsi).find("\"state\":\"LOCKED\""), std::string::npos) << SubscriberSnapshot(imsi);
  EXPECT_EQ(ChipOutcomes("locked"), 1);
  // LOCKED: not even the genuine chip with the right code gets a session now.
  auto answer = ChipExchange(imsi, role.Start(chip).value());
  ASSERT_TRUE(answer.has_value());
  protocol::ChipOutcome refused = role.OnPacket(chip, *answer).value();
  ASSERT_EQ(refused.kind, Kind::kRejected);
  EXPECT_NE(refused.error->code, protocol::ErrorCode::kWrongActivationCode);
}

}  // namespace
}  // namespace simkms::e2e
