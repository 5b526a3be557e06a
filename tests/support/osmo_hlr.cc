#include "tests/support/osmo_hlr.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace simkms::testing {
namespace {

int ConnectTo(const std::string& address, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, address.c_str(), &a.sin_addr);
  a.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads until `until` appears `count` times in what was read, or the timeout.
std::string ReadUntil(int fd, const std::string& until, std::size_t count, int timeout_ms) {
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto seen = [&] {
    std::size_t n = 0;
    for (std::size_t pos = got.find(until); pos != std::string::npos; pos = got.find(until, pos + 1)) ++n;
    return n;
  };
  while (seen() < count) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0) break;
    got.append(chunk, static_cast<std::size_t>(n));
  }
  return got;
}

}  // namespace

std::unique_ptr<OsmoHlr> OsmoHlr::Start(const std::string& ipa_name) {
  std::unique_ptr<OsmoHlr> h(new OsmoHlr());
  std::mt19937 pick{std::random_device{}()};
  for (int i = 0; i < 100; ++i) {
    std::uniform_int_distribution<int> a(20, 219), b(1, 250);
    h->address_ = "127." + std::to_string(a(pick)) + "." + std::to_string(b(pick)) + "." + std::to_string(b(pick));
    if (int taken = ConnectTo(h->address_, kGsupPort); taken >= 0) {
      close(taken);  // another osmo-hlr there: pick again
      continue;
    }
    break;
  }
  const std::string cfg = (h->dir_ / "osmo-hlr.cfg").string();
  std::ofstream(cfg) << "log stderr\n"
                        " logging level all notice\n"
                        "line vty\n"
                        " bind " << h->address_ << "\n"
                        "ctrl\n"
                        " bind " << h->address_ << "\n"
                        "hlr\n"
                        " gsup\n"
                        "  bind ip " << h->address_ << "\n"
                        "  ipa-name " << ipa_name << "\n";
  h->process_ = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{"/usr/bin/osmo-hlr", "-c", cfg, "-l", (h->dir_ / "hlr.db").string()},
      std::vector<std::pair<std::string, std::string>>{}, (h->dir_ / "osmo-hlr.log").string());
  for (int i = 0; i < 100; ++i) {
    if (int fd = ConnectTo(h->address_, kGsupPort); fd >= 0) {
      close(fd);
      if (int vty = ConnectTo(h->address_, kVtyPort); vty >= 0) {
        close(vty);
        return h;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "osmo-hlr did not start on " << h->address_ << ":\n" << h->Log();
  return h;
}

OsmoHlr::~OsmoHlr() {
  if (process_ && process_->running()) {
    process_->Signal(SIGTERM);
    process_->Wait();
  }
}

std::string OsmoHlr::Log() const {
  std::ifstream in(dir_ / "osmo-hlr.log");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string OsmoHlr::Vty(const std::vector<std::string>& commands) {
  int fd = ConnectTo(address_, kVtyPort);
  if (fd < 0) return "";
  ReadUntil(fd, "OsmoHLR> ", 1, 5000);
  // Lines end in \n alone: with \r\n the VTY sees an empty command after each.
  std::string all = "enable\n";
  for (const std::string& c : commands) all += c + "\n";
  (void)!write(fd, all.data(), all.size());
  // One "OsmoHLR# " prompt per command after "enable".
  std::string out = ReadUntil(fd, "OsmoHLR# ", commands.size() + 1, 5000);
  close(fd);
  return out;
}

int OsmoHlr::ConnectGsup() const { return ConnectTo(address_, kGsupPort); }

bool OsmoHlr::SetMsisdn(const std::string& imsi, const std::string& msisdn) {
  const std::string out = Vty({"subscriber imsi " + imsi + " update msisdn " + msisdn});
  const bool ok = out.find("Updated subscriber IMSI='" + imsi + "' to MSISDN='" + msisdn + "'") != std::string::npos;
  if (!ok) ADD_FAILURE() << "osmo-hlr VTY:\n" << out;
  return ok;
}

bool OsmoHlr::AddSubscriber(const std::string& imsi) {
  const std::string out = Vty({"subscriber imsi " + imsi + " create"});
  const bool ok = out.find("Created subscriber " + imsi) != std::string::npos;
  if (!ok) ADD_FAILURE() << "osmo-hlr VTY:\n" << out;
  return ok;
}

bool OsmoHlr::AddMilenageSubscriber(const std::string& imsi, const std::string& k_hex, const std::string& opc_hex) {
  const std::string out = Vty({"subscriber imsi " + imsi + " create",
                               "subscriber imsi " + imsi + " update aud3g milenage k " + k_hex + " opc " + opc_hex,
                               "subscriber imsi " + imsi + " show"});
  const bool ok = out.find("Created subscriber " + imsi) != std::string::npos &&
                  out.find("3G auth: MILENAGE") != std::string::npos;
  if (!ok) ADD_FAILURE() << "osmo-hlr VTY:\n" << out;
  return ok;
}

}  // namespace simkms::testing
