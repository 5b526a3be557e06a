// The admin socket's peer check (SO_PEERCRED) against the real kmsd: a process
// of another user is refused even when the socket file's mode would let it
// connect, and nothing changes. Needs root to switch to another uid.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "tests/e2e/kmsd_fixture.h"

namespace simkms::e2e {
namespace {

constexpr uid_t kNobody = 65534;

// Connects to `path` as `uid` in a child process and returns what the server
// sent before closing (or "connect: <error>").
std::string ConnectAs(uid_t uid, const std::string& path) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return "pipe failed";
  const pid_t pid = fork();
  if (pid == 0) {
    close(pipe_fds[0]);
    std::string out;
    if (setgid(uid) != 0 || setuid(uid) != 0) {
      out = "setuid failed";
    } else {
      const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
      if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        out = std::string("connect: ") + std::strerror(errno);
      } else {
        // The server judges the peer on accept and answers before reading.
        char buf[4096];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
        if (n < 0) out += std::string("read: ") + std::strerror(errno);
      }
    }
    (void)!write(pipe_fds[1], out.data(), out.size());
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(pipe_fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return out;
}

class KmsdAdminPeerTest : public KmsdFixture {};

TEST_F(KmsdAdminPeerTest, AnotherUsersProcessIsRefusedEvenThroughAnOpenSocketFile) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to act as another uid";
  const std::string sock = (token_.dir() / "admin.sock").string();
  const long audit = AuditRecords();
  ASSERT_GT(audit, 0);
  // The file system is the first barrier: the socket is 0600 and refuses nobody.
  EXPECT_THAT(ConnectAs(kNobody, sock), ::testing::HasSubstr("connect: Permission denied"));
  // Open the file system barrier on purpose: the peer check must still refuse.
  ASSERT_EQ(chmod(token_.dir().c_str(), 0711), 0);
  ASSERT_EQ(chmod(sock.c_str(), 0666), 0);
  const std::string reply = ConnectAs(kNobody, sock);
  EXPECT_THAT(reply, ::testing::HasSubstr("peer uid not allowed on the admin socket"));
  EXPECT_THAT(Http("GET", "/metrics").body,
              ::testing::HasSubstr("simkms_admin_requests_total{outcome=\"peer_refused\"} 1"));
  EXPECT_EQ(AuditRecords(), audit);
  // The owner is still served.
  ProcessResult status = Kmsctl({"--admin-socket", sock, "status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
}

}  // namespace
}  // namespace simkms::e2e
