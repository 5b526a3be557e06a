#include "tools/chipsim/vpcd_link.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "base/wiped_buffer.h"
#include "tools/chipsim/tcp_connect.h"

namespace simkms::chip {
namespace {

// The reader's control messages.
enum Control : uint8_t { kPowerOff = 0x00, kPowerOn = 0x01, kReset = 0x02, kGetAtr = 0x04 };

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() { ::close(fd_); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // Exactly `size` bytes; false when the peer closed the connection before
  // the first of them. An error for a connection lost midway.
  StatusOr<bool> Read(uint8_t* out, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
      ssize_t n = ::recv(fd_, out + done, size - done, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return UnavailableError(std::string("reading from the vpcd reader: ") + std::strerror(errno));
      if (n == 0) {
        if (done == 0) return false;
        return DataLossError("the vpcd reader closed the connection inside a message");
      }
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  Status Write(ByteView payload) {
    Bytes message{static_cast<uint8_t>(payload.size() >> 8), static_cast<uint8_t>(payload.size())};
    message.insert(message.end(), payload.begin(), payload.end());
    WipeOnExit wipe(message);  // may carry a PIN's echo, CK/IK
    std::size_t done = 0;
    while (done < message.size()) {
      ssize_t n = ::send(fd_, message.data() + done, message.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return UnavailableError(std::string("writing to the vpcd reader: ") + std::strerror(errno));
      done += static_cast<std::size_t>(n);
    }
    return OkStatus();
  }

 private:
  int fd_;
};

}  // namespace

Bytes ToT0Command(ByteView apdu) {
  // Header (4) + Lc (1) + Lc bytes + Le (1), Lc not 00 (00 would be an
  // extended length, which this card does not take).
  if (apdu.size() > 6 && apdu[4] != 0 && apdu.size() == 5u + apdu[4] + 1u) {
    return Bytes(apdu.begin(), apdu.end() - 1);
  }
  return Bytes(apdu.begin(), apdu.end());
}

Status ServeVpcd(const VpcdOptions& options, Card& card, const std::function<Status()>& after_command) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.connect_timeout_ms);
  StatusOr<int> fd = ConnectTcp(options.host, options.port, "the vpcd reader");
  while (!fd.ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    fd = ConnectTcp(options.host, options.port, "the vpcd reader");
  }
  if (!fd.ok()) return fd.status();
  Socket reader(*fd);
  for (;;) {
    uint8_t length[2];
    SIMKMS_ASSIGN_OR_RETURN(bool more, reader.Read(length, sizeof length));
    if (!more) return OkStatus();
    Bytes message((std::size_t{length[0]} << 8) | length[1]);
    WipeOnExit wipe(message);  // a VERIFY carries the PIN
    if (!message.empty()) {
      SIMKMS_ASSIGN_OR_RETURN(bool complete, reader.Read(message.data(), message.size()));
      if (!complete) return DataLossError("the vpcd reader closed the connection inside a message");
    }
    if (message.size() == 1) {
      switch (message[0]) {
        case kPowerOff: card.PowerOff(); break;
        case kPowerOn:
        case kReset: card.PowerOn(); break;
        case kGetAtr: SIMKMS_RETURN_IF_ERROR(reader.Write(card.Atr())); break;
        default:
          return DataLossError("unknown control byte " + ToHex(ByteView(message)) + " from the vpcd reader");
      }
      continue;
    }
    if (message.empty()) return DataLossError("an empty message from the vpcd reader");
    Bytes command = ToT0Command(message);
    WipeOnExit wipe_command(command);
    Bytes response = card.Transmit(command);
    WipeOnExit wipe_response(response);
    SIMKMS_RETURN_IF_ERROR(after_command());
    SIMKMS_RETURN_IF_ERROR(reader.Write(response));
  }
}

}  // namespace simkms::chip
