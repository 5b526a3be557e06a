#include "tools/bench/rekey_requests.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

namespace simkms::bench {
namespace {

// One keep-alive connection to the operator API. Answers are read by their
// Content-Length (kmsd's Beast server always sends one).
class ApiConnection {
 public:
  explicit ApiConnection(const sockaddr_in& addr) : addr_(addr) {}
  ~ApiConnection() { Close(); }
  ApiConnection(const ApiConnection&) = delete;
  ApiConnection& operator=(const ApiConnection&) = delete;

  Status Open() {
    Close();
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<const sockaddr*>(&addr_), sizeof addr_) != 0) {
      Close();
      return UnavailableError(std::string("cannot connect to the operator API: ") + std::strerror(errno));
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return OkStatus();
  }

  // The HTTP status of POST `target` (empty body); an error if the exchange failed.
  StatusOr<int> Post(const std::string& target) {
    if (fd_ < 0) {
      SIMKMS_RETURN_IF_ERROR(Open());
    }
    const std::string req = "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n";
    if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
      Close();
      return UnavailableError(std::string("send: ") + std::strerror(errno));
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

 private:
  static std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    buffer_.clear();
  }

  sockaddr_in addr_;
  int fd_ = -1;
  std::string buffer_;
};

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

StatusOr<RekeyRequestResult> RequestRekeys(const std::string& endpoint, const std::vector<std::string>& imsis,
                                           std::size_t connections) {
  SIMKMS_ASSIGN_OR_RETURN(sockaddr_in addr, ParseIpv4Endpoint(endpoint));
  {
    ApiConnection probe(addr);  // fail early, with the reason, when nothing listens
    SIMKMS_RETURN_IF_ERROR(probe.Open());
  }
  RekeyRequestResult result;
  result.accepted.assign(imsis.size(), false);
  std::vector<char> accepted(imsis.size(), 0);  // vector<bool> is not safe to write from threads
  std::atomic<std::size_t> next{0};
  std::mutex errors_mu;
  auto worker = [&] {
    ApiConnection conn(addr);
    for (std::size_t i = next++; i < imsis.size(); i = next++) {
      auto status = conn.Post("/v1/subscribers/" + imsis[i] + "/rekey");
      if (!status.ok()) status = conn.Post("/v1/subscribers/" + imsis[i] + "/rekey");  // reopened once
      if (status.ok() && *status == 200) {
        accepted[i] = 1;
        continue;
      }
      std::lock_guard lock(errors_mu);
      ++result.errors[status.ok() ? "http:" + std::to_string(*status) : "connection"];
    }
  };
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < std::max<std::size_t>(1, connections); ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (std::size_t i = 0; i < imsis.size(); ++i) result.accepted[i] = accepted[i] != 0;
  return result;
}

}  // namespace simkms::bench
