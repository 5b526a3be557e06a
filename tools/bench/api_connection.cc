#include "tools/bench/api_connection.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace simkms::bench {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

StatusOr<sockaddr_in> ParseIpv4Endpoint(const std::string& endpoint) {
  auto colon = endpoint.rfind(':');
  if (colon == std::string::npos) return InvalidArgumentError("want IPv4:PORT, not '" + endpoint + "'");
  const std::string port = endpoint.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) == 0 || std::stoul(port) > 65535) {
    return InvalidArgumentError("bad port in '" + endpoint + "'");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoul(port)));
  if (inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    return InvalidArgumentError("not an IPv4 address: '" + endpoint + "'");
  }
  return addr;
}

Status ApiConnection::Open() {
  Close();
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0 || connect(fd_, reinterpret_cast<const sockaddr*>(&addr_), sizeof addr_) != 0) {
    const int err = errno;
    Close();
    return UnavailableError(std::string("cannot connect to the operator API: ") + std::strerror(err));
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return OkStatus();
}

StatusOr<int> ApiConnection::Post(const std::string& target, const std::string& body) {
  if (fd_ < 0) {
    SIMKMS_RETURN_IF_ERROR(Open());
  }
  std::string req = "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n";
  if (!body.empty()) req += "Content-Type: application/json\r\n";
  req += "\r\n" + body;
  if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    const int err = errno;
    Close();
    return UnavailableError(std::string("send: ") + std::strerror(err));
  }
  for (;;) {
    if (auto head = buffer_.find("\r\n\r\n"); head != std::string::npos) {
      std::size_t length = 0;
      if (auto at = Lower(buffer_.substr(0, head)).find("\r\ncontent-length:"); at != std::string::npos) {
        length = std::strtoul(buffer_.c_str() + at + 17, nullptr, 10);
      }
      if (buffer_.size() >= head + 4 + length) {
        if (buffer_.size() < 12 || buffer_.compare(0, 5, "HTTP/") != 0) {
          Close();
          return DataLossError("not an HTTP answer");
        }
        const int status = std::atoi(buffer_.c_str() + 9);
        buffer_.erase(0, head + 4 + length);
        return status;
      }
    }
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      Close();
      return UnavailableError("the operator API closed the connection");
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

void ApiConnection::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  buffer_.clear();
}

}  // namespace simkms::bench
