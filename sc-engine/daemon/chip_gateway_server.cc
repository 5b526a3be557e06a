#include "sc-engine/daemon/chip_gateway_server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>

#include <array>
#include <chrono>

#include "sc-engine/daemon/stream_session_internal.h"
#include "sc-engine/daemon/tls_internal.h"
#include "sc-engine/protocol/gateway_frame.h"

namespace simkms::daemon {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr int kMaxInFlight = 64;
// Bytes queued but not yet sent (a gateway that sends keepalives or packets and
// never reads): closed beyond this. At most kMaxInFlight answers of a few
// hundred bytes are owed at a time, so nothing legitimate comes near it.
constexpr std::size_t kMaxQueuedBytes = 1 << 20;

template <class Stream>
class GatewayConnection : public StreamSession<GatewayConnection<Stream>, Stream> {
  using Base = StreamSession<GatewayConnection<Stream>, Stream>;

 public:
  GatewayConnection(Stream stream, ConnectionSlot slot, Services& services, const ListenerConfig& listener)
      : Base(std::move(stream), std::move(slot),
             {services.metrics, "simkms_chip_connections_closed_total", kMaxQueuedBytes,
              std::chrono::milliseconds(services.config.read_timeout_ms), services.graceful_stop}),
        services_(services),
        listener_(listener) {}

  void Start() {
    this->JoinGracefulStop();
    this->Handshake([this] {
      if constexpr (Base::kTls) {
        const std::string cn = PeerCommonName(this->stream_.native_handle());
        auto role = listener_.roles.find(cn);
        if (role == listener_.roles.end() || role->second != "chip_gateway") return this->Close("role_refused");
      }
      ReadMore();
    });
  }

 private:
  using Base::Close;
  using Base::Write;
  using Base::stream_;
  using Base::timer_;

  void ArmTimer() {
    timer_.expires_after(std::chrono::milliseconds(services_.config.read_timeout_ms));
    timer_.async_wait([weak = this->weak_from_this()](auto ec) {
      if (ec) return;
      if (auto self = weak.lock(); self && self->in_flight_ == 0) self->Close("read_timeout");
    });
  }

  void ReadMore() {
    if (this->closed() || reading_ || in_flight_ >= kMaxInFlight || services_.graceful_stop.stopping()) return;
    reading_ = true;
    ArmTimer();
    stream_.async_read_some(asio::buffer(buffer_), [self = this->shared_from_this()](auto ec, std::size_t n) {
      self->reading_ = false;
      if (self->closed()) return;
      self->timer_.cancel();
      if (ec) return self->Close(ec == asio::error::eof ? "peer_closed" : "read_error");
      if (self->services_.graceful_stop.stopping()) return;  // read after the stop began: not taken on
      self->OnBytes(n);
    });
  }

  void OnBytes(std::size_t n) {
    std::size_t offset = 0;
    while (offset < n && !this->closed()) {
      auto consumed = decoder_.Feed(ByteView(buffer_.data() + offset, n - offset));
      if (!consumed.ok()) return Close("bad_frame");
      offset += *consumed;
      while (auto frame = decoder_.Pop()) Dispatch(std::move(*frame));
    }
    ReadMore();
  }

  void Dispatch(protocol::GatewayFrame frame) {
    if (frame.type == protocol::GatewayFrameType::kKeepalive) {
      auto keepalive = protocol::EncodeGatewayFrame(frame);
      if (keepalive.ok()) Write(std::move(*keepalive));
      return;
    }
    if (frame.type != protocol::GatewayFrameType::kFromChip) return Close("bad_frame_type");
    ++in_flight_;
    this->OweReply();
    const auto started = std::chrono::steady_clock::now();
    // A packet for a chip with a session in progress (its CONFIRM) goes before new HELLOs.
    const bool in_progress = services_.chip_channel.HasPendingSession(frame.imsi);
    auto job = [self = this->shared_from_this(), frame = std::move(frame), started](p11::Session& session) {
      auto result = self->services_.chip_channel.OnPacket(session, frame.imsi, frame.payload);
      asio::post(self->stream_.get_executor(), [self, frame, result = std::move(result), started]() mutable {
        --self->in_flight_;
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        self->services_.metrics.Observe("simkms_chip_packet_seconds", seconds);
        if (!result.ok() && self->services_.record_alarm.Raise(result.status(), frame.imsi, "chip-channel")) {
          // A record that fails its MAC: the chip gets no answer, the alarm is raised.
          self->services_.metrics.Count("simkms_chip_packets_total", "outcome", "record_not_authentic");
        } else if (!result.ok()) {
          self->services_.metrics.Count("simkms_chip_packets_total", "outcome",
                                        std::string("error_") + std::string(StatusCodeName(result.status().code())));
        } else {
          self->services_.metrics.Count("simkms_chip_packets_total", "outcome", result->outcome);
          if (result->reply) {
            protocol::GatewayFrame reply{protocol::GatewayFrameType::kToChip, frame.imsi, std::move(*result->reply)};
            auto encoded = protocol::EncodeGatewayFrame(reply);
            if (encoded.ok()) self->Write(std::move(*encoded));
          }
        }
        self->ReplyDone();
        self->ReadMore();
      });
    };
    if (in_progress) {
      services_.crypto.Post(std::move(job));
    } else {
      services_.crypto.PostNew(std::move(job));
    }
  }

  Services& services_;
  const ListenerConfig& listener_;
  protocol::GatewayFrameDecoder decoder_;
  std::array<uint8_t, 4096> buffer_{};
  int in_flight_ = 0;
  bool reading_ = false;
};

}  // namespace

StatusOr<std::unique_ptr<TcpListener>> StartChipGatewayListener(asio::io_context& io, const ListenerConfig& listener,
                                                                std::shared_ptr<asio::ssl::context> tls,
                                                                Services& services) {
  // The misuse outcomes alert rules watch (docs/lifecycle.md: a clone, a chip locked by
  // wrong activation codes), at 0 until the first.
  for (const char* outcome : {"clone_alarm", "clone_alarm_suppressed", "locked"}) {
    services.metrics.Declare("simkms_chip_packets_total", {{"outcome", outcome}});
  }
  // The listener config lives in the Daemon's Config, which outlives the listener and its sessions.
  return StartTcpListener(io, listener, services.metrics,
                          [&listener, tls, &services](tcp::socket socket, ConnectionSlot slot) {
                            if (services.graceful_stop.stopping()) return;
                            services.metrics.Count("simkms_chip_connections_total", "tls", tls ? "yes" : "no");
                            if (tls) {
                              std::make_shared<GatewayConnection<TlsSocket>>(TlsSocket(std::move(socket), *tls),
                                                                             std::move(slot), services, listener)
                                  ->Start();
                            } else {
                              std::make_shared<GatewayConnection<tcp::socket>>(std::move(socket), std::move(slot),
                                                                               services, listener)
                                  ->Start();
                            }
                          });
}

}  // namespace simkms::daemon
