// simkms-gsup's command line: what it refuses before connecting, and how it
// fails against a server that is gone or silent. (Against a real AuC, kmsd's
// GSUP listener, in tests/e2e.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/support/paths.h"
#include "tests/support/subprocess.h"

namespace simkms {
namespace {

using ::testing::HasSubstr;
using simkms::testing::ProcessResult;

ProcessResult Gsup(std::vector<std::string> args) {
  args.insert(args.begin(), simkms::testing::BinaryDir() + "/tools/gsup-client/simkms-gsup");
  return simkms::testing::RunProcess(args);
}

// A loopback socket that listens but never accepts or writes: connect()
// succeeds (the kernel's backlog), then silence.
class SilentServer {
 public:
  SilentServer() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd_, 4), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~SilentServer() {
    if (fd_ >= 0) close(fd_);
  }
  // Closes the socket: the port is then (almost certainly) refused.
  void Close() {
    close(fd_);
    fd_ = -1;
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

TEST(GsupClientTest, RefusesAnInvalidImsiBeforeConnecting) {
  for (const char* imsi : {"12345", "0010100000000001", "00101000000000a", ""}) {
    ProcessResult r = Gsup({"--server", "127.0.0.1:1", "--imsi", imsi});
    EXPECT_EQ(r.exit_code, 2) << imsi;
    EXPECT_THAT(r.err, HasSubstr("IMSI must be 6..15 decimal digits")) << imsi;
    EXPECT_EQ(r.out, "");
  }
}

TEST(GsupClientTest, RefusesBadServerAndCountAndResyncArguments) {
  const std::vector<std::vector<std::string>> bad = {
      {"--server", "localhost", "--imsi", "001010000000000"},
      {"--server", "127.0.0.1:0", "--imsi", "001010000000000"},
      {"--server", "127.0.0.1:70000", "--imsi", "001010000000000"},
      {"--server", ":4222", "--imsi", "001010000000000"},
      {"--imsi", "001010000000000"},
      {"--server", "127.0.0.1:4222"},
      {"--server", "127.0.0.1:4222", "--imsi", "001010000000000", "--count", "0"},
      {"--server", "127.0.0.1:4222", "--imsi", "001010000000000", "--count", "6"},
      {"--server", "127.0.0.1:4222", "--imsi", "001010000000000", "--cn-domain", "lte"},
      {"--server", "127.0.0.1:4222", "--imsi", "001010000000000", "--auts", "00112233445566778899aabbccdd"},
      {"--server", "127.0.0.1:4222", "--imsi", "001010000000000", "--auts", "0011", "--rand",
       "00112233445566778899aabbccddeeff"},
      {"--server", "127.0.0.1:4222", "--imsi", "001010000000000", "--auts", "00112233445566778899aabbccdd",
       "--rand", "00112233445566778899aabbccddeeffxx"},
  };
  for (const auto& args : bad) {
    ProcessResult r = Gsup(args);
    EXPECT_NE(r.exit_code, 0) << ::testing::PrintToString(args);
    EXPECT_NE(r.exit_code, 1) << "a usage error must not look like a network failure: "
                              << ::testing::PrintToString(args) << r.err;
    EXPECT_EQ(r.out, "") << ::testing::PrintToString(args);
  }
}

TEST(GsupClientTest, AnUnreachableServerIsANetworkFailure) {
  SilentServer gone;
  const std::string endpoint = gone.endpoint();
  gone.Close();
  ProcessResult r = Gsup({"--server", endpoint, "--imsi", "001010000000000"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot connect"));
  EXPECT_EQ(r.out, "");
}

TEST(GsupClientTest, ASilentServerTimesOutWaitingForTheIdentityRequest) {
  SilentServer silent;
  ProcessResult r = Gsup({"--server", silent.endpoint(), "--imsi", "001010000000000", "--timeout-ms", "200"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no answer within 200 ms"));
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace simkms
