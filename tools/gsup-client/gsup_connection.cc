#include "tools/gsup-client/gsup_connection.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace simkms::gsup_client {

StatusOr<Endpoint> ParseEndpoint(const std::string& text) {
  Endpoint e;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find("]:");
    if (close == std::string::npos) return InvalidArgumentError("expected [ADDRESS]:PORT, got '" + text + "'");
    e.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) {
      return InvalidArgumentError("expected HOST:PORT, got '" + text + "'");
    }
    e.host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (e.host.empty()) return InvalidArgumentError("no host in '" + text + "'");
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) == 0 || std::stoul(port) > 65535) {
    return InvalidArgumentError("port must be 1..65535 in '" + text + "'");
  }
  e.port = static_cast<uint16_t>(std::stoul(port));
  return e;
}

GsupConnection::~GsupConnection() {
  if (fd_ >= 0) close(fd_);
}

Status GsupConnection::Connect(const Endpoint& endpoint, const std::string& name, int timeout_ms) {
  timeout_ms_ = timeout_ms;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(endpoint.port);
  if (int rc = getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return UnavailableError("cannot resolve " + endpoint.host + ": " + gai_strerror(rc));
  }
  std::string last_error = "no address";
  for (addrinfo* a = found; a != nullptr && fd_ < 0; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      fd_ = fd;
    } else {
      last_error = std::strerror(errno);
      close(fd);
    }
  }
  freeaddrinfo(found);
  if (fd_ < 0) return UnavailableError("cannot connect to " + endpoint.host + ":" + port + ": " + last_error);

  // The server speaks first: ID_GET. libosmo-gsup-client answers it with
  // UNIT and SERNR; osmo-hlr sends no ID_ACK, so nothing more is awaited.
  for (;;) {
    SIMKMS_ASSIGN_OR_RETURN(gsup::IpaFrame frame, ReadFrame());
    auto kind = gsup::ClassifyFrame(frame);
    if (kind.ok() && kind->kind == gsup::Classified::Kind::kIdGet) break;
  }
  SIMKMS_ASSIGN_OR_RETURN(
      Bytes resp, gsup::EncodeIdResp({{gsup::IdTag::kUnit, "0/0/0"}, {gsup::IdTag::kSerNr, name}}));
  return SendAll(resp);
}

Status GsupConnection::SendAll(ByteView data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return UnavailableError(std::string("send: ") + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  return OkStatus();
}

StatusOr<gsup::IpaFrame> GsupConnection::ReadFrame() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
  for (;;) {
    while (!pending_.empty()) {
      SIMKMS_ASSIGN_OR_RETURN(std::size_t used, decoder_.Feed(pending_));
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(used));
      if (auto frame = decoder_.Pop()) {
        auto kind = gsup::ClassifyFrame(*frame);
        if (kind.ok() && kind->kind == gsup::Classified::Kind::kPing) {
          SIMKMS_RETURN_IF_ERROR(SendAll(gsup::EncodePong()));
          continue;
        }
        return *frame;
      }
      if (used == 0) break;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return UnavailableError("no answer within " + std::to_string(timeout_ms_) + " ms");
    pollfd p{fd_, POLLIN, 0};
    int ready = poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return UnavailableError("no answer within " + std::to_string(timeout_ms_) + " ms");
    uint8_t chunk[4096];
    ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return UnavailableError("the server closed the connection");
    if (n < 0) return UnavailableError(std::string("recv: ") + std::strerror(errno));
    pending_.insert(pending_.end(), chunk, chunk + n);
  }
}

StatusOr<gsup::Message> GsupConnection::Exchange(const gsup::Message& request) {
  SIMKMS_ASSIGN_OR_RETURN(Bytes message, gsup::Encode(request));
  SIMKMS_ASSIGN_OR_RETURN(Bytes frame, gsup::EncodeGsupFrame(message));
  SIMKMS_RETURN_IF_ERROR(SendAll(frame));
  // SAI has no transaction id: a client matches the answer by IMSI.
  for (;;) {
    SIMKMS_ASSIGN_OR_RETURN(gsup::IpaFrame in, ReadFrame());
    auto kind = gsup::ClassifyFrame(in);
    if (!kind.ok() || kind->kind != gsup::Classified::Kind::kGsup) continue;
    SIMKMS_ASSIGN_OR_RETURN(gsup::Message answer, gsup::Decode(kind->body));
    if (answer.imsi == request.imsi && !gsup::IsRequest(answer.type)) return answer;
  }
}

}  // namespace simkms::gsup_client
