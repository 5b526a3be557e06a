// The SC's chip channel with the subscriber state in the store: the first call,
// activation codes up to LOCKED, lost messages across an SC restart, the clone
// alarm, a re-key whose COMMIT is lost, and the OTA keys a pending session
// keeps from HELLO to CONFIRM (they end with the session; resyncs still work).
#include <thread>

#include "sc-engine/engine/chip_channel.h"
#include "pkcs11/fault_injection.h"
#include "policy/numbering.h"
#include "tests/sc/appliance_fixture.h"
#include "tests/support/ki1_packets.h"
#include "tests/support/status_testing.h"

namespace simkms::sc {
namespace {

using ::testing::HasSubstr;

class ChipChannelTest : public ApplianceFixture {
 protected:
  void SetUp() override {
    ApplianceFixture::SetUp();
    vault_ = std::make_unique<kms::Ki2Vault>(keys_.storage_kek, Unwrap(kms::TokenKcv(s(), keys_.storage_kek, "KEK")));
    Restart();
  }
  void TearDown() override {
    channel_.reset();
    subscriber_keys_.reset();
    cache_.reset();
    ki1_cache_.reset();
  }
  // A new ChipChannel: what a kmsd restart leaves (pending sessions are gone, the key caches empty).
  void Restart() {
    channel_.reset();
    subscriber_keys_.reset();
    ki1_cache_ = std::make_unique<kms::KeyCache>(16);
    cache_ = std::make_unique<kms::KeyCache>(16);
    subscriber_keys_ = std::make_unique<SubscriberKeys>(keys_, *store_, *vault_, *ki1_cache_, *cache_);
    channel_ = std::make_unique<ChipChannel>(keys_, *store_, *subscriber_keys_, [this] { return now_ms_; });
  }
  ChipChannelResult Send(const Bytes& packet) { return Unwrap(channel_->OnPacket(s(), kFirstImsi, packet)); }

  // HELLO -> CHALLENGE -> CONFIRM -> COMMIT, optionally losing the COMMIT.
  protocol::ChipOutcome RunCall(protocol::ChipProtocolState& chip, protocol::ChipRole& role, bool lose_commit = false) {
    ChipChannelResult challenge = Send(Unwrap(role.Start(chip)));
    EXPECT_EQ(challenge.outcome, "challenge");
    protocol::ChipOutcome confirm = Unwrap(role.OnPacket(chip, *challenge.reply));
    ChipChannelResult commit = Send(confirm.packet);
    if (lose_commit || !commit.reply) return confirm;
    return Unwrap(role.OnPacket(chip, *commit.reply));
  }

  // Session objects (CKA_TOKEN false) the process holds in the token now.
  std::size_t SessionObjects() {
    p11::Attributes a;
    a.Bool(CKA_TOKEN, false);
    p11::FindOperation find = Unwrap(s().BeginFind(a));
    std::size_t n = 0;
    for (;;) {
      std::vector<CK_OBJECT_HANDLE> some = Unwrap(find.Next(64));
      if (some.empty()) return n;
      n += some.size();
    }
  }

  storage::SubscriberRecord Record() { return Unwrap(store_->GetSubscriber(kFirstImsi)); }
  std::string LastEvent() { return Unwrap(store_->ReadAudit(Unwrap(store_->AuditHead()).seq, 1))[0].event.event; }
  uint64_t AuditSeq() { return Unwrap(store_->AuditHead()).seq; }
  // A detail of the last audit record ("" if it has none of that name).
  std::string LastDetail(const std::string& name) {
    const std::vector<storage::AuditRecord> last = Unwrap(store_->ReadAudit(AuditSeq(), 1));
    for (const auto& [k, v] : last[0].event.details) {
      if (k == name) return v;
    }
    return "";
  }

  static Bytes UnderKi1(const protocol::ChipProtocolState& ki1_chip, uint64_t counter, const protocol::Message& m) {
    return Unwrap(simkms::testing::SealUnderKi1(ki1_chip, counter, m));
  }
  static protocol::Hello NextHello(const protocol::ChipProtocolState& ki1_chip) {
    return Unwrap(simkms::testing::NextKi1Hello(ki1_chip));
  }
  // Finding 2 of issue 10: one packet under Ki_1 with the highest CNTR, for a
  // PERSONALIZED subscriber, must not lock the genuine chip out of re-keys.
  void ExpectKi1PacketWithTheLastCounterCannotLockOut(const protocol::Message& m) {
    Unwrap(Subscribers().Contract({"o-1", kFirstIccid, 2, std::nullopt}));
    protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
    const protocol::ChipProtocolState clone = chip;
    ASSERT_EQ(RunCall(chip, role_).kind, protocol::ChipOutcome::Kind::kCommitted);
    const uint64_t audit = AuditSeq();
    auto answer = channel_->OnPacket(s(), kFirstImsi, UnderKi1(clone, protocol::kMaxCounter, m));
    ASSERT_OK(answer);
    EXPECT_EQ(answer->outcome, "clone_alarm");
    EXPECT_FALSE(answer->reply.has_value());
    EXPECT_EQ(AuditSeq(), audit + 1);
    EXPECT_EQ(LastEvent(), "subscriber.clone_suspected");
    EXPECT_EQ(LastDetail("key_version"), "1");
    EXPECT_EQ(LastDetail("counter"), std::to_string(protocol::kMaxCounter));
    // The genuine chip re-keys afterwards: its counters under Ki_2 did not move.
    Unwrap(Subscribers().RequestRekey(kFirstImsi));
    auto hello = channel_->OnPacket(s(), kFirstImsi, Unwrap(role_.Start(chip)));
    ASSERT_OK(hello);
    ASSERT_EQ(hello->outcome, "challenge");
    protocol::ChipOutcome confirm = Unwrap(role_.OnPacket(chip, *hello->reply));
    ChipChannelResult commit = Send(confirm.packet);
    ASSERT_EQ(commit.outcome, "commit");
    EXPECT_EQ(Unwrap(role_.OnPacket(chip, *commit.reply)).kind, protocol::ChipOutcome::Kind::kCommitted);
  }

  // The channel's clock (unix ms); tests move it to pass the clone-alarm interval.
  int64_t now_ms_ = 1700000002000;
  std::unique_ptr<kms::Ki2Vault> vault_;
  std::unique_ptr<kms::KeyCache> ki1_cache_;
  std::unique_ptr<kms::KeyCache> cache_;  // Ki_2
  std::unique_ptr<SubscriberKeys> subscriber_keys_;
  std::unique_ptr<ChipChannel> channel_;
  std::string code_ = "424242";
  protocol::ChipRole role_{[this]() -> StatusOr<std::string> { return code_; }};
};

TEST_F(ChipChannelTest, FirstCallPersonalizesAndClearsTheHotline) {
  Unwrap(Subscribers().Contract({"o-1", kFirstIccid, 2, SecretBytes::Copy(AsBytes("424242"))}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  protocol::ChipOutcome done = RunCall(chip, role_);
  ASSERT_EQ(done.kind, protocol::ChipOutcome::Kind::kCommitted);
  storage::SubscriberRecord r = Record();
  EXPECT_EQ(r.state, storage::SubscriberState::kPersonalized);
  EXPECT_FALSE(r.hotline);
  EXPECT_EQ(r.ki2_kcv, Unwrap(kms::SoftwareAesKcv(done.new_ki2)));
  // The first call's counters stay with Ki_1; the new Ki_2 starts at zero (docs/protocol.md §2).
  EXPECT_EQ(r.ota.ki1, (storage::OtaCounters{chip.counter_out, chip.counter_in}));
  EXPECT_EQ(r.ota_counter_in, 0u);
  EXPECT_EQ(r.ota_counter_out, 0u);
  EXPECT_TRUE(Unwrap(Subscribers().ReadPuk(kFirstImsi)).Equals(SecretBytes::Copy(AsBytes(done.new_puk))));
  EXPECT_EQ(channel_->pending_sessions(), 0u);
}

TEST_F(ChipChannelTest, UnknownImsiIsRefused) {
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  auto r = channel_->OnPacket(s(), kFirstImsi, Unwrap(role_.Start(chip)));
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

// An IMSI's mutex is forgotten once no packet holds or waits for it: packets for
// IMSIs with no contract (misuse 1.1, any number of them, some at once) and a
// whole first call leave no entry behind.
TEST_F(ChipChannelTest, NoImsiLockOutlivesItsPackets) {
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  const Bytes hello = Unwrap(role_.Start(chip));
  for (int i = 1; i <= 100; ++i) {
    const std::string n = std::to_string(i);
    const std::string imsi = "0010198765" + std::string(5 - n.size(), '0') + n;
    EXPECT_EQ(channel_->OnPacket(s(), imsi, hello).status().code(), StatusCode::kNotFound);
  }
  EXPECT_EQ(channel_->imsis_locked(), 0u);

  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      p11::Session session = Unwrap(p11::Session::Open(ts_.module, ts_.slot));
      for (int i = 0; i < 50; ++i) {
        EXPECT_EQ(channel_->OnPacket(session, "001019876500999", hello).status().code(), StatusCode::kNotFound);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(channel_->imsis_locked(), 0u);

  Unwrap(Subscribers().Contract({"o-1", kFirstIccid, 2, SecretBytes::Copy(AsBytes("424242"))}));
  ASSERT_EQ(RunCall(chip, role_).kind, protocol::ChipOutcome::Kind::kCommitted);
  EXPECT_EQ(channel_->imsis_locked(), 0u);
}

TEST_F(ChipChannelTest, WrongActivationCodesLockTheContract) {
  Unwrap(Subscribers().Contract({"o-1", kFirstIccid, 2, SecretBytes::Copy(AsBytes("424242"))}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  code_ = "000000";
  std::vector<std::string> outcomes;
  std::vector<int> tries_left;
  for (int i = 0; i < 3; ++i) {
    ChipChannelResult challenge = Send(Unwrap(role_.Start(chip)));
    protocol::ChipOutcome confirm = Unwrap(role_.OnPacket(chip, *challenge.reply));
    ChipChannelResult answer = Send(confirm.packet);
    outcomes.push_back(answer.outcome);
    protocol::ChipOutcome rejected = Unwrap(role_.OnPacket(chip, *answer.reply));
    EXPECT_EQ(rejected.kind, protocol::ChipOutcome::Kind::kRejected);
    ASSERT_TRUE(rejected.error.has_value());
    EXPECT_EQ(rejected.error->code, protocol::ErrorCode::kWrongActivationCode);
    tries_left.push_back(rejected.error->tries_left.value_or(-1));
  }
  EXPECT_EQ(outcomes, (std::vector<std::string>{"activation_rejected", "activation_rejected", "locked"}));
  // The ERROR tells the handset how many tries remain (protocol §4.5).
  EXPECT_EQ(tries_left, (std::vector<int>{2, 1, 0}));
  EXPECT_EQ(Record().state, storage::SubscriberState::kLocked);
  // Locked: no further session, even with the right code.
  code_ = "424242";
  ChipChannelResult refused = Send(Unwrap(role_.Start(chip)));
  EXPECT_EQ(refused.outcome, "rejected");
  EXPECT_EQ(Record().state, storage::SubscriberState::kLocked);
}

TEST_F(ChipChannelTest, LostMessagesAcrossAnScRestartNeverSplitTheKeys) {
  Unwrap(Subscribers().Contract({"o-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  // CHALLENGE sent, then the SC restarts: the CONFIRM meets no session.
  ChipChannelResult challenge = Send(Unwrap(role_.Start(chip)));
  protocol::ChipOutcome confirm = Unwrap(role_.OnPacket(chip, *challenge.reply));
  Restart();
  ChipChannelResult unknown = Send(confirm.packet);
  EXPECT_EQ(unknown.outcome, "rejected");
  EXPECT_EQ(Record().state, storage::SubscriberState::kContracted);
  Unwrap(role_.OnPacket(chip, *unknown.reply));
  // The COMMIT is lost, then the SC restarts again: the chip's next HELLO resynchronises.
  protocol::ChipOutcome pending = RunCall(chip, role_, /*lose_commit=*/true);
  ASSERT_EQ(pending.kind, protocol::ChipOutcome::Kind::kSendPacket);
  ASSERT_EQ(Record().state, storage::SubscriberState::kPersonalized);
  Restart();
  ChipChannelResult resend = Send(Unwrap(role_.Start(chip)));
  EXPECT_EQ(resend.outcome, "resend_commit");
  protocol::ChipOutcome done = Unwrap(role_.OnPacket(chip, *resend.reply));
  ASSERT_EQ(done.kind, protocol::ChipOutcome::Kind::kCommitted);
  EXPECT_EQ(Record().ki2_kcv, Unwrap(kms::SoftwareAesKcv(done.new_ki2)));
}

TEST_F(ChipChannelTest, CloneWithKi1RaisesTheAlarmAndGetsNoAnswer) {
  Unwrap(Subscribers().Contract({"o-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  protocol::ChipProtocolState clone = chip;
  ASSERT_EQ(RunCall(chip, role_).kind, protocol::ChipOutcome::Kind::kCommitted);
  clone.counter_out = chip.counter_out + 5;
  protocol::ChipRole clone_role([] { return StatusOr<std::string>(std::string("000000")); });
  ChipChannelResult alarm = Send(Unwrap(clone_role.Start(clone)));
  EXPECT_EQ(alarm.outcome, "clone_alarm");
  EXPECT_FALSE(alarm.reply.has_value());
  EXPECT_EQ(LastEvent(), "subscriber.clone_suspected");
  EXPECT_EQ(Record().state, storage::SubscriberState::kPersonalized);
  // The clone's counter did not lock the genuine chip out: it still re-keys.
  Unwrap(Subscribers().RequestRekey(kFirstImsi));
  EXPECT_EQ(RunCall(chip, role_).kind, protocol::ChipOutcome::Kind::kCommitted);
}

// A clone's packet under Ki_1 arriving in the middle of the genuine chip's re-key
// (between CHALLENGE and CONFIRM) changes nothing but the audit: the genuine
// chip's pending session survives it and its CONFIRM commits. (It used to be
// dropped: one packet from a K1 holder cancelled every re-key in progress.)
TEST_F(ChipChannelTest, ACloneInTheMiddleOfARekeyDoesNotCancelIt) {
  Unwrap(Subscribers().Contract({"o-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  const protocol::ChipProtocolState clone = chip;
  ASSERT_EQ(RunCall(chip, role_).kind, protocol::ChipOutcome::Kind::kCommitted);
  Unwrap(Subscribers().RequestRekey(kFirstImsi));
  ChipChannelResult challenge = Send(Unwrap(role_.Start(chip)));
  ASSERT_EQ(challenge.outcome, "challenge");
  for (uint64_t counter : {protocol::kMaxCounter, clone.counter_out + 1}) {
    ChipChannelResult alarm = Send(UnderKi1(clone, counter, NextHello(clone)));
    EXPECT_EQ(alarm.outcome.rfind("clone_alarm", 0), 0u) << alarm.outcome;
  }
  protocol::ChipOutcome confirm = Unwrap(role_.OnPacket(chip, *challenge.reply));
  ChipChannelResult commit = Send(confirm.packet);
  ASSERT_EQ(commit.outcome, "commit");
  EXPECT_EQ(Unwrap(role_.OnPacket(chip, *commit.reply)).kind, protocol::ChipOutcome::Kind::kCommitted);
  EXPECT_FALSE(Record().hotline);
}

TEST_F(ChipChannelTest, RekeyWithALostCommitIsResentUnderThePreviousKey) {
  Unwrap(Subscribers().Contract({"o-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  protocol::ChipOutcome first = RunCall(chip, role_);
  ASSERT_EQ(first.kind, protocol::ChipOutcome::Kind::kCommitted);
  const SecretBytes puk = Unwrap(Subscribers().ReadPuk(kFirstImsi));

  Unwrap(Subscribers().RequestRekey(kFirstImsi));
  EXPECT_TRUE(Record().hotline);
  protocol::ChipOutcome lost = RunCall(chip, role_, /*lose_commit=*/true);
  ASSERT_EQ(lost.kind, protocol::ChipOutcome::Kind::kSendPacket);
  EXPECT_EQ(Record().state, storage::SubscriberState::kPersonalized);  // the SC committed
  // The chip still speaks under its old Ki_2, with a resync proof for the new one.
  Restart();
  ChipChannelResult resend = Send(Unwrap(role_.Start(chip)));
  EXPECT_EQ(resend.outcome, "resend_commit");
  protocol::ChipOutcome done = Unwrap(role_.OnPacket(chip, *resend.reply));
  ASSERT_EQ(done.kind, protocol::ChipOutcome::Kind::kCommitted);
  EXPECT_EQ(Record().ki2_kcv, Unwrap(kms::SoftwareAesKcv(done.new_ki2)));
  EXPECT_NE(Record().ki2_kcv, Unwrap(kms::SoftwareAesKcv(first.new_ki2)));
  EXPECT_TRUE(Unwrap(Subscribers().ReadPuk(kFirstImsi)).Equals(puk));  // the PUK is not renegotiated
  EXPECT_FALSE(Record().hotline);
}

// The four OTA keys of the channel (enc/mac, up/down). Ki_2 waits wrapped under
// the storage KEK, and K_act is not derived when no activation code is required.
constexpr std::size_t kPendingObjects = 4;
// The contracted subscriber's Ki_1, kept in the Ki_1 cache until the commit replaces
// it; the pending session shares that handle for the CONFIRM rather than deriving again.
constexpr std::size_t kCachedKi1 = 1;

TEST_F(ChipChannelTest, CachedKeysLiveAsLongAsThePendingSession) {
  Unwrap(Subscribers().Contract({"o-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  const std::size_t idle = SessionObjects();

  ChipChannelResult challenge = Send(Unwrap(role_.Start(chip)));
  ASSERT_EQ(challenge.outcome, "challenge");
  EXPECT_EQ(SessionObjects(), idle + kPendingObjects + kCachedKi1);
  // A restart ends the session: its objects go with it, and the caches start empty.
  Restart();
  EXPECT_EQ(SessionObjects(), idle);

  // A new HELLO replaces a pending session: its objects do not pile up.
  Send(Unwrap(role_.Start(chip)));
  challenge = Send(Unwrap(role_.Start(chip)));
  ASSERT_EQ(challenge.outcome, "challenge");
  EXPECT_EQ(channel_->pending_sessions(), 1u);
  EXPECT_EQ(SessionObjects(), idle + kPendingObjects + kCachedKi1);

  // The CONFIRM (opened and answered with the kept keys) commits, and the session's objects are gone,
  // Ki_1 too: the commit drops it from the Ki_1 cache.
  protocol::ChipOutcome confirm = Unwrap(role_.OnPacket(chip, *challenge.reply));
  ChipChannelResult commit = Send(confirm.packet);
  ASSERT_EQ(commit.outcome, "commit");
  protocol::ChipOutcome done = Unwrap(role_.OnPacket(chip, *commit.reply));
  ASSERT_EQ(done.kind, protocol::ChipOutcome::Kind::kCommitted);
  EXPECT_EQ(channel_->pending_sessions(), 0u);
  EXPECT_EQ(SessionObjects(), idle);
  EXPECT_EQ(Unwrap(store_->GetSubscriber(kFirstImsi)).ki2_kcv, Unwrap(kms::SoftwareAesKcv(done.new_ki2)));
}

// With an activation code the CONFIRM must carry the proof under K_act, so the
// pending session keeps that one key; Ki_2 still waits wrapped, and the right
// code commits it.
TEST_F(ChipChannelTest, APendingSessionKeepsKActOnlyForAnActivationCode) {
  Unwrap(Subscribers().Contract({"o-1", kFirstIccid, 2, SecretBytes::Copy(AsBytes("424242"))}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  code_ = "424242";
  const std::size_t idle = SessionObjects();
  ChipChannelResult challenge = Send(Unwrap(role_.Start(chip)));
  ASSERT_EQ(challenge.outcome, "challenge");
  EXPECT_EQ(SessionObjects(), idle + kPendingObjects + 1 + kCachedKi1);
  protocol::ChipOutcome confirm = Unwrap(role_.OnPacket(chip, *challenge.reply));
  ChipChannelResult commit = Send(confirm.packet);
  ASSERT_EQ(commit.outcome, "commit");
  protocol::ChipOutcome done = Unwrap(role_.OnPacket(chip, *commit.reply));
  ASSERT_EQ(done.kind, protocol::ChipOutcome::Kind::kCommitted);
  EXPECT_EQ(SessionObjects(), idle);
  EXPECT_EQ(Record().ki2_kcv, Unwrap(kms::SoftwareAesKcv(done.new_ki2)));
}

TEST_F(ChipChannelTest, LostChallengeAndLostCommitStillResynchronise) {
  Unwrap(Subscribers().Contract({"o-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  // The CHALLENGE is lost: the chip says HELLO again, opened with the pending session's keys.
  Send(Unwrap(role_.Start(chip)));
  ChipChannelResult challenge = Send(Unwrap(role_.Start(chip)));
  ASSERT_EQ(challenge.outcome, "challenge");
  // The CONFIRM commits, the COMMIT is lost: the next HELLO (Ki_1, resync proof) gets it again.
  protocol::ChipOutcome confirm = Unwrap(role_.OnPacket(chip, *challenge.reply));
  ASSERT_EQ(Send(confirm.packet).outcome, "commit");
  ChipChannelResult resend = Send(Unwrap(role_.Start(chip)));
  ASSERT_EQ(resend.outcome, "resend_commit");
  protocol::ChipOutcome done = Unwrap(role_.OnPacket(chip, *resend.reply));
  ASSERT_EQ(done.kind, protocol::ChipOutcome::Kind::kCommitted);
  EXPECT_EQ(Unwrap(store_->GetSubscriber(kFirstImsi)).ki2_kcv, Unwrap(kms::SoftwareAesKcv(done.new_ki2)));
}

TEST_F(ChipChannelTest, AnAlteredConfirmDoesNotOpenWithTheKeptKeys) {
  Unwrap(Subscribers().Contract({"o-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  ChipChannelResult challenge = Send(Unwrap(role_.Start(chip)));
  protocol::ChipOutcome confirm = Unwrap(role_.OnPacket(chip, *challenge.reply));
  // A CONFIRM altered on the way does not verify under the kept keys and changes nothing.
  Bytes forged = confirm.packet;
  forged.back() ^= 1;
  EXPECT_EQ(channel_->OnPacket(s(), kFirstImsi, forged).status().code(), StatusCode::kUnauthenticated);
  // Nothing changed: the genuine CONFIRM still commits.
  EXPECT_EQ(Send(confirm.packet).outcome, "commit");
}

// ---- OTA counters per key version and clone alarms (issue 10, findings 2 and 3)

TEST_F(ChipChannelTest, ARekeyHelloUnderKi1WithTheLastCounterDoesNotLockTheChipOut) {
  protocol::Hello rekey = NextHello(MakeChip(kFirstImsi));
  rekey.kind = protocol::SessionKind::kRekey;
  ExpectKi1PacketWithTheLastCounterCannotLockOut(rekey);
}

TEST_F(ChipChannelTest, AConfirmUnderKi1WithoutASessionAndTheLastCounterDoesNotLockTheChipOut) {
  ExpectKi1PacketWithTheLastCounterCannotLockOut(protocol::Confirm{});
}

// The genuine chip whose COMMIT was lost speaks under Ki_1 again (its resync
// HELLO): a clone's Ki_1 packet with a huge CNTR must not block it, and the
// resync, once accepted, cannot be replayed.
TEST_F(ChipChannelTest, AClonesHugeCounterCannotBlockTheResyncOfALostCommit) {
  Unwrap(Subscribers().Contract({"o-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  const protocol::ChipProtocolState clone = chip;
  ASSERT_EQ(RunCall(chip, role_, /*lose_commit=*/true).kind, protocol::ChipOutcome::Kind::kSendPacket);
  ASSERT_EQ(Record().state, storage::SubscriberState::kPersonalized);
  auto blocked = channel_->OnPacket(s(), kFirstImsi, UnderKi1(clone, protocol::kMaxCounter, protocol::Confirm{}));
  ASSERT_OK(blocked);
  EXPECT_EQ(blocked->outcome, "clone_alarm");
  const Bytes resync = Unwrap(role_.Start(chip));
  auto resend = channel_->OnPacket(s(), kFirstImsi, resync);
  ASSERT_OK(resend);
  ASSERT_EQ(resend->outcome, "resend_commit");
  EXPECT_EQ(Unwrap(role_.OnPacket(chip, *resend->reply)).kind, protocol::ChipOutcome::Kind::kCommitted);
  // Ki_1's counter moved with the resync: the same packet again is a replay.
  Status replay = channel_->OnPacket(s(), kFirstImsi, resync).status();
  EXPECT_EQ(replay.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(replay.message(), HasSubstr("is not higher than the last accepted"));
}

TEST_F(ChipChannelTest, AReplayedClonePacketRaisesOneAlarmEver) {
  Unwrap(Subscribers().Contract({"o-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  protocol::ChipProtocolState clone = chip;
  ASSERT_EQ(RunCall(chip, role_).kind, protocol::ChipOutcome::Kind::kCommitted);
  clone.counter_out = chip.counter_out + 5;
  protocol::ChipRole clone_role([] { return StatusOr<std::string>(std::string("000000")); });
  const Bytes captured = Unwrap(clone_role.Start(clone));
  const uint64_t audit = AuditSeq();
  std::vector<std::string> outcomes;
  for (int i = 0; i < 5; ++i) {
    if (i == 3) Restart();  // the de-duplication is stored, not kept in memory
    auto alarm = channel_->OnPacket(s(), kFirstImsi, captured);
    ASSERT_OK(alarm);
    EXPECT_FALSE(alarm->reply.has_value());
    outcomes.push_back(alarm->outcome);
  }
  EXPECT_EQ(outcomes, (std::vector<std::string>{"clone_alarm", "clone_alarm_duplicate", "clone_alarm_duplicate",
                                                "clone_alarm_duplicate", "clone_alarm_duplicate"}));
  EXPECT_EQ(AuditSeq(), audit + 1);
  EXPECT_EQ(LastEvent(), "subscriber.clone_suspected");
}

TEST_F(ChipChannelTest, DistinctCloneAlarmsAreRateLimitedPerSubscriber) {
  Unwrap(Subscribers().Contract({"o-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState chip = MakeChip(kFirstImsi);
  const protocol::ChipProtocolState clone = chip;
  ASSERT_EQ(RunCall(chip, role_).kind, protocol::ChipOutcome::Kind::kCommitted);
  const protocol::Hello hello = NextHello(clone);
  auto send = [&](uint64_t counter) {
    auto r = channel_->OnPacket(s(), kFirstImsi, UnderKi1(clone, counter, hello));
    EXPECT_OK(r);
    return r.ok() ? r->outcome : r.status().ToString();
  };
  const uint64_t audit = AuditSeq();
  EXPECT_EQ(send(100), "clone_alarm");
  EXPECT_EQ(send(101), "clone_alarm_suppressed");
  EXPECT_EQ(send(102), "clone_alarm_suppressed");
  EXPECT_EQ(AuditSeq(), audit + 1);
  // After the interval (a day is more than the default) the next distinct
  // alarm is audited, carrying the count of those suppressed.
  now_ms_ += int64_t{24} * 3600 * 1000;
  EXPECT_EQ(send(103), "clone_alarm");
  EXPECT_EQ(AuditSeq(), audit + 2);
  EXPECT_EQ(LastDetail("suppressed_since_last"), "2");
  EXPECT_EQ(LastDetail("counter"), "103");
  // A suppressed alarm is still remembered: its replay is a duplicate.
  EXPECT_EQ(send(101), "clone_alarm_duplicate");
  EXPECT_EQ(AuditSeq(), audit + 2);
  EXPECT_EQ(Record().state, storage::SubscriberState::kPersonalized);
}

// A Ki_1 holder completes the first call of a contract without an activation
// code (counters far ahead); the genuine chip's HELLOs, behind that counter,
// are not dropped silently as replays but raise the clone alarm.
TEST_F(ChipChannelTest, TheGenuineChipBehindAHijackedFirstCallRaisesTheAlarm) {
  Unwrap(Subscribers().Contract({"o-1", kFirstIccid, 2, std::nullopt}));
  protocol::ChipProtocolState genuine = MakeChip(kFirstImsi);
  protocol::ChipProtocolState hijacker = genuine;
  hijacker.counter_out = uint64_t{1} << 30;
  protocol::ChipRole hijacker_role([] { return StatusOr<std::string>(std::string("000000")); });
  ASSERT_EQ(RunCall(hijacker, hijacker_role).kind, protocol::ChipOutcome::Kind::kCommitted);
  const uint64_t audit = AuditSeq();
  auto alarm = channel_->OnPacket(s(), kFirstImsi, Unwrap(role_.Start(genuine)));
  ASSERT_OK(alarm);
  EXPECT_EQ(alarm->outcome, "clone_alarm");
  EXPECT_FALSE(alarm->reply.has_value());
  EXPECT_EQ(AuditSeq(), audit + 1);
  EXPECT_EQ(LastEvent(), "subscriber.clone_suspected");
  EXPECT_EQ(LastDetail("counter"), "1");
}

}  // namespace
}  // namespace simkms::sc

namespace simkms::sc {
namespace {

// Issue 12: each token call the chip channel makes during a first call fails in
// turn (pkcs11/fault_injection.h), once, on a fresh subscriber each time. Whatever
// fails, the chip retries as a real one would (a new HELLO after any error or
// silence) and the call completes with the chip and the AC on the same Ki_2: a
// failure never leaves them split, and never locks the subscriber out.
TEST_F(ChipChannelTest, EachTokenCallFailingInTurnNeverSplitsTheKeys) {
  std::shared_ptr<p11::Module> faulty_module = p11::FaultInjection::Wrap(ts_.module);
  p11::Session faulty = Unwrap(p11::Session::Open(faulty_module, ts_.slot));
  const uint64_t first_body = Unwrap(policy::ParseIccid(kFirstIccid));

  // One attempt of the chip: HELLO .. COMMIT; true once the chip holds the new key.
  // `trace` collects what each step got, for the failure message.
  std::string trace;
  auto attempt = [&](protocol::ChipProtocolState& chip, const std::string& imsi) {
    auto note = [&](const std::string& what) { trace += what + "; "; };
    auto challenge = channel_->OnPacket(faulty, imsi, Unwrap(role_.Start(chip)));
    note("HELLO -> " + (challenge.ok() ? challenge->outcome : challenge.status().ToString()));
    if (!challenge.ok() || !challenge->reply) return false;
    auto confirm = role_.OnPacket(chip, *challenge->reply);
    if (!confirm.ok()) {
      note("chip: " + confirm.status().ToString());
      return false;
    }
    if (confirm->kind == protocol::ChipOutcome::Kind::kCommitted) return true;  // a resent COMMIT
    if (confirm->kind != protocol::ChipOutcome::Kind::kSendPacket) {
      note("chip: not a CONFIRM (" + std::to_string(static_cast<int>(confirm->kind)) + ")");
      return false;
    }
    auto commit = channel_->OnPacket(faulty, imsi, confirm->packet);
    note("CONFIRM -> " + (commit.ok() ? commit->outcome : commit.status().ToString()));
    if (!commit.ok() || !commit->reply) return false;
    auto done = role_.OnPacket(chip, *commit->reply);
    if (!done.ok()) note("chip: " + done.status().ToString());
    return done.ok() && done->kind == protocol::ChipOutcome::Kind::kCommitted;
  };

  uint64_t n = 1;
  for (;; ++n) {
    SCOPED_TRACE("token call " + std::to_string(n) + " fails");
    const std::string iccid = Unwrap(policy::FormatIccid(first_body + n));
    const storage::SubscriberRecord contracted =
        Unwrap(Subscribers().Contract({"o-" + std::to_string(n), iccid, 2, std::nullopt}));
    protocol::ChipProtocolState chip = MakeChip(contracted.imsi);
    trace.clear();
    p11::FaultInjection::Arm({.function = "", .mechanism = std::nullopt, .nth = n, .rv = CKR_DEVICE_ERROR});
    bool committed = attempt(chip, contracted.imsi);
    const bool faulted = p11::FaultInjection::failed_calls() > 0;
    p11::FaultInjection::Disarm();
    for (int retry = 0; retry < 3 && !committed; ++retry) committed = attempt(chip, contracted.imsi);

    ASSERT_TRUE(committed) << "the chip never got its key: " << trace;
    const storage::SubscriberRecord r = Unwrap(store_->GetSubscriber(contracted.imsi));
    EXPECT_EQ(r.state, storage::SubscriberState::kPersonalized);
    EXPECT_EQ(r.ki2_kcv, Unwrap(kms::SoftwareAesKcv(chip.base_key))) << "chip and AC hold different keys";
    if (!faulted) break;  // the call made fewer than n token calls: every one has failed once
    ASSERT_LT(n, 500u);
  }
  EXPECT_GT(n, 10u) << "the wrapper saw too few token calls to mean anything";
  RecordProperty("token_calls_of_a_first_call", static_cast<int>(n - 1));
}

}  // namespace
}  // namespace simkms::sc
