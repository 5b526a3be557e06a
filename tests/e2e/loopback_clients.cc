#include "tests/e2e/loopback_clients.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

#include <gtest/gtest.h>

#include "kms/k1_export.h"
#include "policy/numbering.h"
#include "sc-engine/protocol/gateway_frame.h"
#include "softcrypto/software_keys.h"
#include "tests/support/status_testing.h"

namespace simkms::e2e {
namespace {

void SendAll(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

// Reads until `complete(buffer)` or close or timeout.
template <typename Done>
std::string ReadUntil(int fd, int timeout_ms, Done complete) {
  std::string buffer;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!complete(buffer)) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) break;
    char chunk[4096];
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
  return buffer;
}

std::string ToString(const Bytes& b) { return std::string(b.begin(), b.end()); }

}  // namespace

int ConnectLoopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

HttpResult LoopbackHttp(uint16_t port, const std::string& method, const std::string& target, const std::string& body,
                        int timeout_ms) {
  int fd = ConnectLoopback(port);
  if (fd < 0) return {};
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
  if (!body.empty()) req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  SendAll(fd, req);
  std::string response = ReadUntil(fd, timeout_ms, [](const std::string&) { return false; });
  close(fd);
  HttpResult r;
  if (response.size() > 12) r.status = std::stoi(response.substr(9, 3));
  std::size_t split = response.find("\r\n\r\n");
  if (split != std::string::npos) r.body = response.substr(split + 4);
  return r;
}

std::optional<Bytes> GatewayExchange(int* fd, uint16_t port, const std::string& imsi, const Bytes& packet,
                                     int timeout_ms) {
  if (*fd < 0) *fd = ConnectLoopback(port);
  if (*fd < 0) return std::nullopt;
  auto frame = protocol::EncodeGatewayFrame({protocol::GatewayFrameType::kFromChip, imsi, packet});
  if (!frame.ok()) return std::nullopt;
  SendAll(*fd, ToString(*frame));
  std::optional<Bytes> reply;
  ReadUntil(*fd, timeout_ms, [&](const std::string& buffer) {
    ByteView view(reinterpret_cast<const uint8_t*>(buffer.data()), buffer.size());
    protocol::GatewayFrameDecoder d;
    std::size_t offset = 0;
    while (offset < view.size()) {
      auto n = d.Feed(view.subspan(offset));
      if (!n.ok() || *n == 0) break;
      offset += *n;
      if (auto f = d.Pop()) {
        reply = f->payload;
        return true;
      }
    }
    return false;
  });
  if (!reply.has_value()) {
    close(*fd);
    *fd = -1;
  }
  return reply;
}

std::string RawGatewayExchange(uint16_t port, const std::string& bytes, int timeout_ms) {
  int fd = ConnectLoopback(port);
  SendAll(fd, bytes);
  std::string back = ReadUntil(fd, timeout_ms, [](const std::string&) { return false; });
  close(fd);
  return back;
}

protocol::ChipProtocolState MakeChipFromExport(const std::string& k1_export_json, const std::string& mfr_key_pem,
                                               const std::string& imsi) {
  auto file = kms::K1Export::FromJson(k1_export_json);
  EXPECT_OK(file);
  auto k1 = kms::UnwrapK1Export(*file, mfr_key_pem);
  auto op = kms::UnwrapOpFromExport(*file, mfr_key_pem);
  EXPECT_TRUE(k1.ok() && op.ok());
  protocol::ChipProtocolState chip;
  chip.imsi = imsi;
  chip.ver = file->ver;
  chip.group = protocol::DhGroup::Named(kms::DhGroupKind::kFfdhe2048).value();
  chip.base_key = kms::SoftwareDeriveKi1(file->profile, *k1, imsi).value();
  // The card keeps Ki_1's OPc, not OP (the manufacturer computes it, docs/manufacturer.md).
  chip.opc = kms::SoftwareOpc(chip.base_key, *op).value();
  return chip;
}

std::string IccidAfter(const std::string& first, int n) {
  StatusOr<uint64_t> body = policy::ParseIccid(first);
  StatusOr<std::string> next = body.ok() ? policy::FormatIccid(*body + static_cast<uint64_t>(n)) : body.status();
  if (!next.ok()) throw std::invalid_argument("IccidAfter(" + first + ", " + std::to_string(n) + "): " + next.status().ToString());
  return *next;
}

}  // namespace simkms::e2e
