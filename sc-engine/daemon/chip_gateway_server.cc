#include "sc-engine/daemon/chip_gateway_server.h"

#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <deque>

#include "sc-engine/daemon/tls.h"
#include "sc-engine/protocol/gateway_frame.h"

namespace simkms::daemon {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SslStream = asio::ssl::stream<tcp::socket>;

constexpr int kMaxInFlight = 64;

template <class Stream>
class GatewayConnection : public std::enable_shared_from_this<GatewayConnection<Stream>> {
 public:
  GatewayConnection(Stream stream, Services& services, const ListenerConfig& listener)
      : stream_(std::move(stream)), timer_(stream_.get_executor()), services_(services), listener_(listener) {}

  void Start() {
    if constexpr (std::is_same_v<Stream, SslStream>) {
      ArmTimer();
      stream_.async_handshake(asio::ssl::stream_base::server, [self = this->shared_from_this()](auto ec) {
        if (ec) return self->Close("tls_handshake_failed");
        const std::string cn = PeerCommonName(self->stream_.native_handle());
        auto role = self->listener_.roles.find(cn);
        if (role == self->listener_.roles.end() || role->second != "chip_gateway") {
          return self->Close("role_refused");
        }
        self->ReadMore();
      });
    } else {
      ReadMore();
    }
  }

 private:
  tcp::socket& Socket() {
    if constexpr (std::is_same_v<Stream, SslStream>) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  void ArmTimer() {
    timer_.expires_after(std::chrono::milliseconds(services_.config.read_timeout_ms));
    timer_.async_wait([weak = this->weak_from_this()](auto ec) {
      if (ec) return;
      if (auto self = weak.lock(); self && self->in_flight_ == 0) self->Close("read_timeout");
    });
  }

  void ReadMore() {
    if (closed_ || reading_ || in_flight_ >= kMaxInFlight || services_.stopping) return;
    reading_ = true;
    ArmTimer();
    stream_.async_read_some(asio::buffer(buffer_), [self = this->shared_from_this()](auto ec, std::size_t n) {
      self->reading_ = false;
      self->timer_.cancel();
      if (ec) return self->Close(ec == asio::error::eof ? "peer_closed" : "read_error");
      self->OnBytes(n);
    });
  }

  void OnBytes(std::size_t n) {
    std::size_t offset = 0;
    while (offset < n) {
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
        self->ReadMore();
      });
    };
    if (in_progress) {
      services_.crypto.Post(std::move(job));
    } else {
      services_.crypto.PostNew(std::move(job));
    }
  }

  void Write(Bytes bytes) {
    if (closed_) return;
    writes_.push_back(std::move(bytes));
    if (writes_.size() == 1) WriteNext();
  }

  void WriteNext() {
    asio::async_write(stream_, asio::buffer(writes_.front()), [self = this->shared_from_this()](auto ec, std::size_t) {
      if (ec) return self->Close("write_error");
      self->writes_.pop_front();
      if (!self->writes_.empty()) self->WriteNext();
    });
  }

  void Close(const char* reason) {
    if (closed_) return;
    closed_ = true;
    services_.metrics.Count("simkms_chip_connections_closed_total", "reason", reason);
    boost::system::error_code ignored;
    timer_.cancel();
    Socket().shutdown(tcp::socket::shutdown_both, ignored);
    Socket().close(ignored);
  }

  Stream stream_;
  asio::steady_timer timer_;
  Services& services_;
  const ListenerConfig& listener_;
  protocol::GatewayFrameDecoder decoder_;
  std::array<uint8_t, 4096> buffer_{};
  std::deque<Bytes> writes_;
  int in_flight_ = 0;
  bool reading_ = false;
  bool closed_ = false;
};

}  // namespace

ChipGatewayServer::ChipGatewayServer(asio::io_context& io, const ListenerConfig& l,
                                     std::shared_ptr<asio::ssl::context> tls, Services& services)
    : io_(io), listener_(l), tls_(std::move(tls)), services_(services), acceptor_(io) {}

StatusOr<std::unique_ptr<ChipGatewayServer>> ChipGatewayServer::Start(asio::io_context& io,
                                                                      const ListenerConfig& listener,
                                                                      std::shared_ptr<asio::ssl::context> tls,
                                                                      Services& services) {
  std::unique_ptr<ChipGatewayServer> server(new ChipGatewayServer(io, listener, std::move(tls), services));
  boost::system::error_code ec;
  tcp::endpoint endpoint(asio::ip::make_address(listener.address, ec), listener.port);
  if (ec) return InvalidArgumentError("chip channel address " + listener.address + ": " + ec.message());
  server->acceptor_.open(endpoint.protocol(), ec);
  if (!ec) server->acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) server->acceptor_.bind(endpoint, ec);
  if (!ec) server->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return UnavailableError("chip channel cannot listen on " + listener.address + ":" +
                            std::to_string(listener.port) + ": " + ec.message());
  }
  server->Accept();
  return server;
}

void ChipGatewayServer::Accept() {
  acceptor_.async_accept(asio::make_strand(io_), [this](auto ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec && !services_.stopping) {
      services_.metrics.Count("simkms_chip_connections_total", "tls", tls_ ? "yes" : "no");
      if (tls_) {
        std::make_shared<GatewayConnection<SslStream>>(SslStream(std::move(socket), *tls_), services_, listener_)
            ->Start();
      } else {
        std::make_shared<GatewayConnection<tcp::socket>>(std::move(socket), services_, listener_)->Start();
      }
    }
    if (!services_.stopping) Accept();
  });
}

void ChipGatewayServer::Stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

uint16_t ChipGatewayServer::port() const { return acceptor_.local_endpoint().port(); }

}  // namespace simkms::daemon
