// kmsd's listeners under connection floods (sc-engine/daemon/listener_internal.h): the
// per-listener cap, the back-off when descriptors run out, the bounded chip
// gateway write queue. Real kmsd, real sockets; kmsd's descriptor limit is
// lowered from outside with prlimit(2), as a small LimitNOFILE would set it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <gmock/gmock.h>

#include "tests/e2e/kmsd_fixture.h"

namespace simkms::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// What came on fd within timeout_ms: the bytes, "" on a timeout, nullopt if
// kmsd closed the connection (EOF or reset).
std::optional<std::string> ReadSome(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return std::string();
  char chunk[4096];
  ssize_t n = recv(fd, chunk, sizeof chunk, 0);
  if (n <= 0) return std::nullopt;
  return std::string(chunk, static_cast<std::size_t>(n));
}

// utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15).
long CpuTicks(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // after "pid (comm) "
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

// The share of one core kmsd used over `span`.
double CpuShare(int pid, milliseconds span) {
  const long before = CpuTicks(pid);
  std::this_thread::sleep_for(span);
  const long ticks = CpuTicks(pid) - before;
  return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK)) /
         std::chrono::duration<double>(span).count();
}

std::size_t OpenDescriptors(int pid) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    ++n;
  }
  return n;
}

class KmsdListenerTest : public KmsdFixture {
 protected:
  // A series of /metrics ("name{labels}"); -1 if absent.
  double Metric(const std::string& series) {
    const std::string text = Http("GET", "/metrics").body;
    const std::size_t at = text.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
  }
  // Waits up to timeout_ms for Metric(series) to reach at least `value`; its last value.
  double AwaitMetric(const std::string& series, double value, int timeout_ms = 10000) {
    const auto deadline = steady_clock::now() + milliseconds(timeout_ms);
    double v = Metric(series);
    while (v < value && steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(100));
      v = Metric(series);
    }
    return v;
  }
  // Lowers kmsd's RLIMIT_NOFILE (soft and hard) to what it has open now plus `room`.
  void LimitKmsdDescriptors(std::size_t room) {
    const rlim_t limit = OpenDescriptors(kmsd_->pid()) + room;
    const rlimit r{limit, limit};
    ASSERT_EQ(prlimit(kmsd_->pid(), RLIMIT_NOFILE, &r, nullptr), 0) << strerror(errno);
  }
  // n connections to port, left idle; closed by the destructor of the fixture's test.
  void Flood(uint16_t port, int n) {
    for (int i = 0; i < n; ++i) {
      int fd = ConnectLoopback(port);
      ASSERT_GE(fd, 0) << "connection " << i;
      flood_.push_back(fd);
    }
  }
  void CloseFlood() {
    for (int fd : flood_) close(fd);
    flood_.clear();
  }
  void TearDown() override {
    CloseFlood();
    KmsdFixture::TearDown();
  }
  std::vector<int> flood_;
};

// GSUP with max_connections 3 and a long identify deadline, so that the
// unidentified connections stay while the test runs.
class KmsdListenerCapTest : public KmsdListenerTest {
 protected:
  void SetUp() override {
    listener_settings_["auc"] = R"("max_connections": 3)";
    gsup_config_ = R"({"peers": [{"address": "127.0.0.1/32", "names": ["*"]}], "identify_timeout_ms": 60000})";
    KmsdListenerTest::SetUp();
  }
};

TEST_F(KmsdListenerCapTest, AConnectionBeyondTheCapIsClosedAndCountedAndClosingOneMakesRoom) {
  // Each admitted GSUP connection gets kmsd's ID_GET at once.
  for (int i = 0; i < 3; ++i) {
    Flood(gsup_port_, 1);
    auto id_get = ReadSome(flood_.back(), 5000);
    ASSERT_TRUE(id_get.has_value() && !id_get->empty()) << "connection " << i << " got no ID_GET";
  }
  int fourth = ConnectLoopback(gsup_port_);
  ASSERT_GE(fourth, 0);
  EXPECT_EQ(ReadSome(fourth, 5000), std::nullopt) << "the fourth connection was served";
  close(fourth);
  EXPECT_EQ(Metric(R"(simkms_connections_refused_total{listener="auc",reason="cap"})"), 1);
  EXPECT_EQ(Metric(R"(simkms_connections{listener="auc"})"), 3);

  // One leaves; its slot comes back once its session is gone, then a new one is served.
  close(flood_.front());
  flood_.erase(flood_.begin());
  bool served = false;
  for (auto deadline = steady_clock::now() + milliseconds(5000); !served && steady_clock::now() < deadline;) {
    int fd = ConnectLoopback(gsup_port_);
    ASSERT_GE(fd, 0);
    auto answer = ReadSome(fd, 2000);
    served = answer.has_value() && !answer->empty();
    if (served) {
      flood_.push_back(fd);
    } else {
      close(fd);
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
  EXPECT_TRUE(served) << "no connection was served after one of the three closed";
  EXPECT_EQ(Metric(R"(simkms_connections{listener="auc"})"), 3);
}

// The chip channel capped at 20, kmsd with room for 60 more descriptors, 300
// idle connections: the cap keeps the descriptors, kmsd stays idle and serves.
class KmsdListenerCapKeepsDescriptorsTest : public KmsdListenerTest {
 protected:
  void SetUp() override {
    listener_settings_["chip_channel"] = R"("max_connections": 20)";
    KmsdListenerTest::SetUp();
  }
};

TEST_F(KmsdListenerCapKeepsDescriptorsTest, MoreIdleConnectionsThanDescriptorsAreRefusedAtTheCapAndKmsdStaysIdle) {
  LimitKmsdDescriptors(60);
  Flood(chip_port_, 300);
  EXPECT_EQ(AwaitMetric(R"(simkms_connections_refused_total{listener="chip_channel",reason="cap"})", 280), 280);
  // A busy accept loop takes a whole core; an idle kmsd next to nothing.
  EXPECT_LT(CpuShare(kmsd_->pid(), milliseconds(2000)), 0.4);
  EXPECT_EQ(Http("GET", "/healthz").status, 200);
  EXPECT_EQ(Metric(R"(simkms_connections_refused_total{listener="chip_channel",reason="fd_exhausted"})"), 0)
      << "the cap refused them all: no accept failed";
}

// The chip channel's cap (default 256) above kmsd's room (60 descriptors), 300
// idle connections: accepts fail with EMFILE, and kmsd backs off instead of
// spinning; once the flood leaves it serves again and has counted the failures.
TEST_F(KmsdListenerTest, OutOfDescriptorsTheListenerBacksOffInsteadOfSpinningAndRecovers) {
  LimitKmsdDescriptors(60);
  Flood(chip_port_, 300);
  // Until kmsd has taken what it can (its descriptors at the limit).
  rlimit r{};
  ASSERT_EQ(prlimit(kmsd_->pid(), RLIMIT_NOFILE, nullptr, &r), 0);
  for (auto deadline = steady_clock::now() + milliseconds(5000);
       OpenDescriptors(kmsd_->pid()) + 2 < r.rlim_cur && steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_LT(CpuShare(kmsd_->pid(), milliseconds(2000)), 0.4);
  CloseFlood();
  int status = 0;
  for (auto deadline = steady_clock::now() + milliseconds(15000); status != 200 && steady_clock::now() < deadline;) {
    status = Http("GET", "/healthz").status;
  }
  EXPECT_EQ(status, 200) << kmsd_log();
  EXPECT_GT(Metric(R"(simkms_connections_refused_total{listener="chip_channel",reason="fd_exhausted"})"), 0);
  EXPECT_THAT(kmsd_log(), ::testing::HasSubstr("chip_channel listener: accept failed: Too many open files"));
}

// A gateway that sends keepalives and never reads what kmsd echoes: once
// kmsd's queue for it passes its bound (1 MiB) the connection is closed and
// counted, rather than the queue growing without end.
TEST_F(KmsdListenerTest, AChipGatewayThatNeverReadsIsDisconnectedAndCounted) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  const int small = 4096;  // before connect(): the window stays small, kmsd's writes back up sooner
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  const timeval send_timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(chip_port_);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  flood_.push_back(fd);
  const Bytes keepalive = protocol::EncodeGatewayFrame({protocol::GatewayFrameType::kKeepalive, "", {}}).value();
  std::string chunk;
  while (chunk.size() < 64 * 1024) chunk.append(keepalive.begin(), keepalive.end());
  // 64 MiB of keepalives at most: far beyond the bound and the sockets' buffers.
  std::size_t sent = 0;
  while (sent < (std::size_t{64} << 20)) {
    ssize_t n = send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  EXPECT_EQ(AwaitMetric(R"(simkms_chip_connections_closed_total{reason="slow_reader"})", 1), 1)
      << "sent " << sent << " bytes";
  EXPECT_EQ(Http("GET", "/healthz").status, 200);
}

}  // namespace
}  // namespace simkms::e2e
