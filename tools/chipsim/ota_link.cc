#include "tools/chipsim/ota_link.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "sc-engine/protocol/gateway_frame.h"
#include "tools/chipsim/tcp_connect.h"

namespace simkms::chip {
namespace {

uint8_t SemiOctets(int value) {
  return static_cast<uint8_t>(((value % 10) << 4) | ((value / 10) % 10));
}

// TP-SCTS of now, UTC (TS 23.040 §9.2.3.11): YY MM DD hh mm ss TZ, semi-octets.
std::array<uint8_t, 7> NowScts() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return {SemiOctets(tm.tm_year % 100), SemiOctets(tm.tm_mon + 1), SemiOctets(tm.tm_mday),
          SemiOctets(tm.tm_hour),       SemiOctets(tm.tm_min),     SemiOctets(tm.tm_sec), 0x00};
}

}  // namespace

StatusOr<GatewayOptions> ParseScEndpoint(std::string_view endpoint) {
  GatewayOptions o;
  std::string_view host, port;
  if (!endpoint.empty() && endpoint.front() == '[') {
    auto close = endpoint.find("]:");
    if (close == std::string_view::npos) return InvalidArgumentError("SC endpoint: expected [IPV6]:PORT");
    host = endpoint.substr(1, close - 1);
    port = endpoint.substr(close + 2);
  } else {
    auto colon = endpoint.rfind(':');
    if (colon == std::string_view::npos) return InvalidArgumentError("SC endpoint: expected HOST:PORT");
    host = endpoint.substr(0, colon);
    port = endpoint.substr(colon + 1);
  }
  if (host.empty()) return InvalidArgumentError("SC endpoint: empty host");
  if (port.empty() || port.size() > 5) return InvalidArgumentError("SC endpoint: bad port");
  unsigned value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return InvalidArgumentError("SC endpoint: bad port");
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return InvalidArgumentError("SC endpoint: port must be 1..65535");
  o.host = std::string(host);
  o.port = static_cast<uint16_t>(value);
  return o;
}

GatewaySmsNetwork::~GatewaySmsNetwork() { Disconnect(); }

void GatewaySmsNetwork::Disconnect() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status GatewaySmsNetwork::Connect() {
  if (fd_ >= 0) return OkStatus();
  SIMKMS_ASSIGN_OR_RETURN(fd_, ConnectTcp(options_.host, options_.port, "the SC"));
  return OkStatus();
}

StatusOr<std::optional<Bytes>> GatewaySmsNetwork::Exchange(const std::string& imsi, const Bytes& packet) {
  SIMKMS_ASSIGN_OR_RETURN(Bytes frame,
                          protocol::EncodeGatewayFrame({protocol::GatewayFrameType::kFromChip, imsi, packet}));
  // An idle connection may have been closed by the SC (its read timeout, e.g.
  // while the customer typed the activation code), or hold a late answer to a
  // packet given up on: either way the exchange starts on a fresh connection.
  if (fd_ >= 0) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) != 0) Disconnect();
  }
  SIMKMS_RETURN_IF_ERROR(Connect());
  std::size_t done = 0;
  while (done < frame.size()) {
    ssize_t n = ::send(fd_, frame.data() + done, frame.size() - done, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      Disconnect();
      return UnavailableError("sending to the SC failed");
    }
    done += static_cast<std::size_t>(n);
  }
  ++packets_sent_;
  protocol::GatewayFrameDecoder decoder;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.answer_timeout_ms);
  uint8_t buffer[4096];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Disconnect();  // the SC closed the connection: no answer to this packet
      ++packets_unanswered_;
      return std::optional<Bytes>();
    }
    ByteView input(buffer, static_cast<std::size_t>(n));
    while (!input.empty()) {
      auto used = decoder.Feed(input);
      if (!used.ok()) {
        Disconnect();
        return used.status().WithContext("frame from the SC");
      }
      input = input.subspan(*used);
      auto got = decoder.Pop();
      if (!got) continue;
      if (got->type == protocol::GatewayFrameType::kToChip && got->imsi == imsi) {
        // One exchange at a time: anything after the answer would be unrequested.
        if (!input.empty() || !decoder.idle()) Disconnect();
        return std::optional<Bytes>(std::move(got->payload));
      }
      // Keepalives and frames for other subscribers are not ours: skip them.
    }
  }
  // Silence: the SC dropped the packet. A late answer must not be taken for the
  // next packet's, so start the next exchange on a fresh connection.
  Disconnect();
  ++packets_unanswered_;
  return std::optional<Bytes>();
}

Status GatewaySmsNetwork::Deliver(const std::string& imsi, const Bytes& packet) {
  SIMKMS_ASSIGN_OR_RETURN(std::vector<Bytes> parts, protocol::Split(packet, reference_++));
  std::deque<Bytes> tpdus;
  for (Bytes& ud : parts) {
    protocol::SmsDeliver sms;
    sms.more_messages_to_send = false;
    sms.user_data_header = true;
    sms.originator = protocol::SmsAddress{0x91, options_.sc_number};
    sms.scts = NowScts();
    sms.user_data = std::move(ud);
    SIMKMS_ASSIGN_OR_RETURN(Bytes tpdu, protocol::EncodeSmsDeliver(sms));
    tpdus.push_back(std::move(tpdu));
  }
  auto& queue = deliveries_[imsi];
  for (Bytes& t : tpdus) queue.push_back(std::move(t));
  return OkStatus();
}

Status GatewaySmsNetwork::Submit(const std::string& imsi, ByteView tpdu) {
  SIMKMS_ASSIGN_OR_RETURN(protocol::SmsSubmit sms, protocol::DecodeSmsSubmit(tpdu));
  if (!sms.user_data_header) return InvalidArgumentError("SMS-SUBMIT without a user data header (TS 31.115)");
  auto added = reassemblers_[imsi].Add(sms.user_data);
  if (!added.ok()) {
    if (added.status().code() == StatusCode::kAlreadyExists) return OkStatus();  // a repeated SMS
    return added.status().WithContext("SMS from " + imsi);
  }
  if (!added->has_value()) return OkStatus();
  Bytes packet = std::move(**added);
  if (tap_ != nullptr) {
    StatusOr<Bytes> replaced = tap_->Upward(imsi, std::move(packet));
    if (!replaced.ok()) return replaced.status().WithContext("packet from " + imsi + " at the tap");
    packet = std::move(*replaced);
  }
  SIMKMS_ASSIGN_OR_RETURN(std::optional<Bytes> answer, Exchange(imsi, packet));
  if (!answer) return OkStatus();
  if (tap_ != nullptr) {
    StatusOr<Bytes> replaced = tap_->Downward(imsi, std::move(*answer));
    if (!replaced.ok()) return replaced.status().WithContext("answer for " + imsi + " at the tap");
    answer = std::move(*replaced);
  }
  return Deliver(imsi, *answer);
}

std::optional<Bytes> GatewaySmsNetwork::Receive(const std::string& imsi) {
  auto it = deliveries_.find(imsi);
  if (it == deliveries_.end() || it->second.empty()) return std::nullopt;
  Bytes next = std::move(it->second.front());
  it->second.pop_front();
  return next;
}

}  // namespace simkms::chip
