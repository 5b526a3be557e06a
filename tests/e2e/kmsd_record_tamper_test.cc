// A DB writer without the token against the real kmsd (issue 11, "records that a
// DB writer cannot bend"): kmsd is stopped, a subscriber record is edited with
// RocksDB directly -- keeping whatever MAC trailer the record had, the best an
// attacker without the record key can do -- and kmsd is started again.
//  - Ki_2 pointer swap: A's ki2_key_id and ki2_kcv set to B's. Before record
//    MACs kmsd served A's vectors under B's Ki_2 (chip B answered A's
//    challenge). Now A gets no vectors (GSUP network failure) and no chip-channel
//    answer, for either chip; one audited alarm, counted in /metrics; B is served.
//  - Unlock: a LOCKED subscriber edited back to CONTRACTED with its tries
//    restored completed a first call. Now the first call is refused.
//  - Rollback to an older GENUINE record (MAC-valid): a MAC cannot see it;
//    `kmsctl audit verify --state` does, naming the field and the audit record.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>
#include <sstream>

#include "tests/e2e/kmsd_fixture.h"
#include "tests/storage/storage_test_util.h"
#include "tests/support/paths.h"
#include "tests/support/status_testing.h"

namespace simkms::e2e {
namespace {

using Kind = protocol::ChipOutcome::Kind;
using storage::testing::RawDb;

class KmsdRecordTamperTest : public KmsdFixture {
 protected:
  static protocol::ChipRole Keypad(const std::string& code) {
    return protocol::ChipRole([code]() -> StatusOr<std::string> { return code; });
  }

  ProcessResult Gsup(const std::string& imsi) {
    return simkms::testing::RunProcess({simkms::testing::BinaryDir() + "/tools/gsup-client/simkms-gsup", "--server",
                                        "127.0.0.1:" + std::to_string(gsup_port_), "--imsi", imsi, "--count", "1"});
  }

  // Rewrites the subscriber record of `imsi` (kmsd stopped) as `edit` says, keeping
  // the bytes the current encoding does not produce (a MAC trailer, if any).
  void EditSubscriber(const std::string& imsi, const std::function<void(storage::SubscriberRecord&)>& edit) {
    RawDb db(db_);
    const std::optional<std::string> stored = db.Get("subscribers", imsi);
    ASSERT_TRUE(stored.has_value()) << imsi;
    auto record = storage::DecodeSubscriberRecord(AsBytes(*stored));
    ASSERT_OK(record);
    const Bytes body = storage::EncodeSubscriberRecord(*record);
    ASSERT_LE(body.size(), stored->size());
    const std::string trailer = stored->substr(body.size());
    edit(*record);
    const Bytes edited = storage::EncodeSubscriberRecord(*record);
    db.Put("subscribers", imsi, std::string(edited.begin(), edited.end()) + trailer);
  }

  std::string RawSubscriber(const std::string& imsi) {
    RawDb db(db_);
    return db.Get("subscribers", imsi).value_or("");
  }

  storage::SubscriberRecord ReadSubscriber(const std::string& imsi) {
    const std::string stored = RawSubscriber(imsi);
    return storage::DecodeSubscriberRecord(AsBytes(stored)).value();
  }

  // Audit records of `event` about `subject`, read offline next to kmsd.
  // Waits up to 5 s for at least `at_least` (the alarm is audited off the request path).
  int CountAuditEventually(const std::string& event, const std::string& subject, int at_least) {
    int n = 0;
    for (int i = 0; i < 50 && (n = CountAudit(event, subject)) < at_least; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return n;
  }

  int CountAudit(const std::string& event, const std::string& subject) {
    ProcessResult r = Kmsctl({"audit", "show", "--limit", "100000"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    int n = 0;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.find(" " + event + " ") != std::string::npos && line.find(subject) != std::string::npos) ++n;
    }
    return n;
  }

  long Metric(const std::string& series) {
    const std::string metrics = Http("GET", "/metrics").body;
    const std::size_t at = metrics.find(series + " ");
    return at == std::string::npos ? 0 : std::stol(metrics.substr(at + series.size() + 1));
  }
};

TEST_F(KmsdRecordTamperTest, Ki2PointerSwapFailsClosedForBothChipsWithOneAlarm) {
  const std::string a = ContractChip(0), b = ContractChip(1);
  protocol::ChipRole role = Keypad("");
  protocol::ChipProtocolState chip_a = MakeChip(a), chip_b = MakeChip(b);
  ASSERT_EQ(RunCall(chip_a, role).kind, Kind::kCommitted);
  ASSERT_EQ(RunCall(chip_b, role).kind, Kind::kCommitted);
  ASSERT_EQ(StopKmsd(), 0);
  const storage::SubscriberRecord record_b = ReadSubscriber(b);
  EditSubscriber(a, [&](storage::SubscriberRecord& r) {
    r.ki2_key_id = record_b.ki2_key_id;
    r.ki2_kcv = record_b.ki2_kcv;
  });
  StartKmsd();

  // No vectors for A, under anyone's key, however often the network asks.
  for (int i = 0; i < 3; ++i) {
    ProcessResult r = Gsup(a);
    EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
    EXPECT_EQ(r.out, "imsi=" + a + " error=NETWORK_FAILURE cause=0x11\n");
  }
  // Neither chip gets a chip-channel answer for A (chip B's Ki_2 no longer speaks for A).
  protocol::ChipProtocolState b_as_a = chip_b;
  b_as_a.imsi = a;
  EXPECT_FALSE(ChipExchange(a, role.Start(b_as_a).value(), 1500).has_value());
  EXPECT_FALSE(ChipExchange(a, role.Start(chip_a).value(), 1500).has_value());
  EXPECT_EQ(ChipOutcomes("record_not_authentic"), 2) << Http("GET", "/metrics").body;
  EXPECT_EQ(Metric("simkms_record_not_authentic_total{kind=\"subscribers\"}"), 5) << Http("GET", "/metrics").body;
  EXPECT_EQ(Metric("simkms_record_alarms_total{kind=\"subscribers\"}"), 1);
  // One alarm for the subscriber, not one per request.
  EXPECT_EQ(CountAuditEventually("record.not-authentic", a, 1), 1);
  // B's own record is intact: B is still served.
  ProcessResult served = Gsup(b);
  EXPECT_EQ(served.exit_code, 0) << served.out << served.err;
  EXPECT_NE(served.out.find("rand="), std::string::npos) << served.out;
  // The operator API refuses to act on the bent record too.
  EXPECT_EQ(Http("POST", "/v1/subscribers/" + a + "/rekey").status, 500);
}

TEST_F(KmsdRecordTamperTest, LockedSubscriberEditedBackToContractedGetsNoFirstCall) {
  const std::string imsi = ContractChip(0, "271828");
  protocol::ChipProtocolState chip = MakeChip(imsi);
  protocol::ChipRole wrong = Keypad("000000");
  for (int i = 0; i < 3; ++i) ASSERT_EQ(RunCall(chip, wrong).kind, Kind::kRejected);
  ASSERT_NE(SubscriberSnapshot(imsi).find("\"state\":\"LOCKED\""), std::string::npos);
  ASSERT_EQ(StopKmsd(), 0);
  EditSubscriber(imsi, [](storage::SubscriberRecord& r) {
    r.state = storage::SubscriberState::kContracted;
    r.activation_tries_left = 3;
  });
  StartKmsd();
  protocol::ChipRole right = Keypad("271828");
  EXPECT_FALSE(ChipExchange(imsi, right.Start(chip).value(), 1500).has_value());
  EXPECT_EQ(ChipOutcomes("record_not_authentic"), 1) << Http("GET", "/metrics").body;
  EXPECT_EQ(CountAuditEventually("record.not-authentic", imsi, 1), 1);
  EXPECT_EQ(CountAudit("subscriber.first_call", imsi), 0);
}

TEST_F(KmsdRecordTamperTest, RollbackToAnOlderGenuineRecordIsNamedByAuditVerifyState) {
  const std::string imsi = ContractChip(0, "271828");
  ASSERT_EQ(StopKmsd(), 0);
  const std::string contracted = RawSubscriber(imsi);  // genuine, MAC-valid
  StartKmsd();
  protocol::ChipProtocolState chip = MakeChip(imsi);
  protocol::ChipRole wrong = Keypad("000000");
  for (int i = 0; i < 3; ++i) ASSERT_EQ(RunCall(chip, wrong).kind, Kind::kRejected);
  ProcessResult clean = Kmsctl({"audit", "verify", "--state"});
  EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  EXPECT_NE(clean.out.find("state_result"), std::string::npos) << clean.out;
  ASSERT_EQ(StopKmsd(), 0);
  {
    RawDb db(db_);
    db.Put("subscribers", imsi, contracted);
  }
  ProcessResult r = Kmsctl({"audit", "verify", "--state"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find(imsi + ": state CONTRACTED, trail says LOCKED (record "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(imsi + ": activation_tries_left 3, trail says 0 (record "), std::string::npos) << r.out;
}

}  // namespace
}  // namespace simkms::e2e
