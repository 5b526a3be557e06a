#include "tests/support/free_port.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>

namespace simkms::testing {
namespace {

// Ports below the kernel's ephemeral range, so no outgoing connection is ever given one.
struct PortRange {
  uint16_t first = 0, last = 0;
};

PortRange CandidateRange() {
  int ephemeral_first = 32768;
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int lo = 0, hi = 0;
  if (range >> lo >> hi && lo > 12000) ephemeral_first = lo;
  // 10000 up: above the well-known and most registered services' ports a test machine
  // runs (5432, 2379, 8008, ...).
  return {10000, static_cast<uint16_t>(ephemeral_first - 1)};
}

bool NoListenerHolds(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  // SO_REUSEADDR as the servers set it: a port whose last connection is in TIME_WAIT is
  // as good as free for them.
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

std::string LockDirectory() {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/simkms-test-ports";
  // World-writable and sticky like /tmp: a test run as root and one run as a user share it.
  if (mkdir(dir.c_str(), 01777) == 0) chmod(dir.c_str(), 01777);
  return dir;
}

// Claims the port for this process's lifetime: the descriptor is never closed.
bool ClaimForThisProcess(const std::string& dir, uint16_t port) {
  const std::string path = dir + "/" + std::to_string(port);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return false;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return false;
  }
  return true;
}

}  // namespace

uint16_t FreePort() {
  static std::mutex mu;
  static std::set<uint16_t> handed_out;
  static const PortRange range = CandidateRange();
  static const std::string lock_dir = LockDirectory();
  static std::mt19937 pick{std::random_device{}()};

  std::lock_guard lock(mu);
  std::uniform_int_distribution<int> any(range.first, range.last);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const auto port = static_cast<uint16_t>(any(pick));
    if (handed_out.count(port) != 0) continue;
    if (!NoListenerHolds(port)) continue;
    if (!ClaimForThisProcess(lock_dir, port)) continue;
    handed_out.insert(port);
    return port;
  }
  throw std::runtime_error("FreePort: no free loopback port in " + std::to_string(range.first) + "-" +
                           std::to_string(range.last) + " after 1000 tries");
}

}  // namespace simkms::testing
