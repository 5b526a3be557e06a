// kmsd's audit witness against a real rsyslogd (Debian's rsyslog) started on loopback
// in a temp dir: epoch heads arrive in the receiver's file, `audit verify --witness`'s
// parser reads them back, and a receiver that is down holds nothing up.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "sc-engine/daemon/audit_witness_sender.h"
#include "storage/audit_witness.h"
#include "tests/support/free_port.h"
#include "tests/support/rsyslog.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace simkms::daemon {
namespace {

using ::testing::HasSubstr;
using simkms::testing::FreePort;
using simkms::testing::Rsyslog;
using simkms::testing::TempDir;

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

storage::AuditEpochHead Head(uint64_t epoch) {
  return storage::AuditEpochHead{epoch, 51 * (epoch + 1), Bytes(32, static_cast<uint8_t>(epoch + 1)), Bytes(32, 0xab)};
}

// Waits (bounded) until the file holds n witness heads.
storage::WitnessLog WaitForHeads(const std::filesystem::path& file, std::size_t n) {
  storage::WitnessLog log;
  for (int i = 0; i < 300 && log.heads.size() < n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    log = storage::ParseWitnessLog(ReadAll(file));
  }
  return log;
}

TEST(AuditWitness, HeadsReachTheSyslogReceiverAndParseBack) {
  TempDir dir;
  const uint16_t port = FreePort();
  Rsyslog receiver(dir.path(), port);
  Metrics metrics;
  AuditWitnessSender sender(WitnessTarget{"127.0.0.1", port, 16, 120000}, metrics);
  sender.Enqueue(Head(0));
  sender.Enqueue(Head(1));
  storage::WitnessLog log = WaitForHeads(dir / "witness.log", 2);
  ASSERT_EQ(log.heads.size(), 2u) << ReadAll(dir / "witness.log") << ReadAll(dir / "rsyslogd.out");
  EXPECT_EQ(log.heads[0], Head(0));
  EXPECT_EQ(log.heads[1], Head(1));
  EXPECT_EQ(log.malformed_lines, 0u);
  EXPECT_THAT(ReadAll(dir / "witness.log"), HasSubstr("kmsd simkms-audit-epoch v=1 epoch=0 seq=51 hash=0101"));
  // Compared with a chain that closed the same epochs: all matched.
  auto cmp = storage::CompareWithWitness({Head(0), Head(1)}, 200, log);
  EXPECT_TRUE(cmp.ok);
  EXPECT_EQ(cmp.epochs_matched, 2u);
  EXPECT_EQ(sender.unsent(), 0u);
}

TEST(AuditWitness, ReceiverDownQueuesBoundedAndDeliversLater) {
  TempDir dir;
  const uint16_t port = FreePort();
  Metrics metrics;
  AuditWitnessSender sender(WitnessTarget{"127.0.0.1", port, 4, 120000}, metrics);
  for (uint64_t e = 0; e < 6; ++e) sender.Enqueue(Head(e));  // returns at once, nobody listening
  EXPECT_EQ(sender.unsent(), 4u);                              // the two oldest dropped
  EXPECT_THAT(metrics.Render(), HasSubstr("simkms_audit_witness_dropped_total{target=\"127.0.0.1:" +
                                          std::to_string(port) + "\"} 2"));
  EXPECT_THAT(metrics.Render(), HasSubstr("simkms_audit_witness_alarm 1"));  // more than half full
  Rsyslog receiver(dir.path(), port);
  storage::WitnessLog log = WaitForHeads(dir / "witness.log", 4);
  ASSERT_EQ(log.heads.size(), 4u) << ReadAll(dir / "rsyslogd.out");
  EXPECT_EQ(log.heads.front(), Head(2));
  EXPECT_EQ(log.heads.back(), Head(5));
}

}  // namespace
}  // namespace simkms::daemon
