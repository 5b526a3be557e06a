#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <chrono>

#include "base/wiped_buffer.h"
#include "pkcs11/error.h"
#include "sc-engine/daemon/health_check_internal.h"
#include "sc-engine/daemon/listener_internal.h"
#include "sc-engine/daemon/operator_api.h"
#include "sc-engine/daemon/tls_internal.h"

namespace simkms::daemon {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// The PKCS#11 codes of a token that is gone (removed, reset, failing), which the alert
// SimkmsTokenUnreachable watches (monitoring/simkms-alerts.yml): their series start at 0,
// so that the first one shows as an increase.
constexpr const char* kTokenLostCkrs[] = {"CKR_DEVICE_REMOVED",       "CKR_DEVICE_ERROR",   "CKR_TOKEN_NOT_PRESENT",
                                          "CKR_TOKEN_NOT_RECOGNIZED", "CKR_SESSION_CLOSED", "CKR_SESSION_HANDLE_INVALID"};

using tcp = asio::ip::tcp;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

template <class Stream>
class HttpConnection : public std::enable_shared_from_this<HttpConnection<Stream>> {
 public:
  HttpConnection(Stream stream, ConnectionSlot slot, Services& services, const ListenerConfig& listener,
                 HttpKind kind)
      : stream_(std::move(stream)), slot_(std::move(slot)), services_(services), listener_(listener), kind_(kind) {}

  void Start() {
    // When kmsd stops: an idle connection (waiting for a request) closes now,
    // a busy one once its answer is written.
    membership_ = services_.graceful_stop.Join([weak = this->weak_from_this(), executor = stream_.get_executor()] {
      asio::post(executor, [weak] {
        if (auto self = weak.lock(); self && !self->busy_) beast::get_lowest_layer(self->stream_).cancel();
      });
    });
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(Timeout());
      stream_.async_handshake(asio::ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (ec) return self->Close("tls_handshake_failed");
        self->handshake_done_ = true;
        self->identity_ = PeerCommonName(self->stream_.native_handle());
        auto role = self->listener_.roles.find(self->identity_);
        if (role != self->listener_.roles.end()) self->role_ = role->second;
        self->Read();
      });
    } else {
      // Plaintext is only allowed on loopback (config safety); a role for local
      // clients without a certificate may be configured under the empty name.
      auto role = listener_.roles.find("");
      if (role != listener_.roles.end()) role_ = role->second;
      identity_ = "local";
      Read();
    }
  }

 private:
  std::chrono::milliseconds Timeout() const { return std::chrono::milliseconds(services_.config.read_timeout_ms); }

  void Read() {
    parser_.emplace();
    parser_->body_limit(services_.config.max_message_bytes);
    parser_->header_limit(8192);
    beast::get_lowest_layer(stream_).expires_after(Timeout());
    http::async_read(stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec == http::error::end_of_stream) return self->Close("peer_closed");
      if (ec && self->services_.graceful_stop.stopping()) return self->Close("stopping");
      if (ec == http::error::body_limit || ec == http::error::header_limit) {
        return self->Respond(413, R"({"error":{"code":"INVALID_ARGUMENT","message":"message too large"}})", false);
      }
      if (ec) return self->Close("read_error");
      if (self->services_.graceful_stop.stopping()) {
        return self->Respond(503, R"({"error":{"code":"UNAVAILABLE","message":"kmsd is stopping"}})", false);
      }
      self->Handle(self->parser_->release());
    });
  }

  void Handle(http::request<http::string_body> req) {
    const bool keep_alive = req.keep_alive();
    busy_ = true;  // until Respond's write completes
    owes_answer_ = true;
    membership_.Owe(1);
    if (kind_ == HttpKind::kMetrics) {
      if (req.method() == http::verb::get && req.target() == "/metrics") {
        // Sampled at scrape time: what waits for a crypto worker or the store's writer, and
        // the token's errors.
        services_.metrics.SetGauge("simkms_crypto_queue_depth", services_.crypto.queued());
        for (const auto& [ckr, n] : p11::TokenErrorCounts()) {
          services_.metrics.SetCounter("simkms_token_errors_total", "ckr", ckr, n);
        }
        // Group commit: submissions / groups is the average number of writes per fsync.
        const sc::StoreLoad load = services_.health.Load();
        services_.metrics.SetCounter("simkms_store_group_commit_total", "what", "groups", load.writes.groups);
        services_.metrics.SetCounter("simkms_store_group_commit_total", "what", "submissions",
                                     load.writes.submissions);
        services_.metrics.SetGauge("simkms_store_write_queue_depth", static_cast<double>(load.writes.queued));
        // Deleted keys purged from the WAL and table files (docs/operations.md).
        services_.metrics.SetCounter("simkms_store_purges_total", "result", "completed", load.purges.completed);
        services_.metrics.SetCounter("simkms_store_purges_total", "result", "failed", load.purges.failed);
        // The latest token check (at start, then on each /healthz).
        services_.metrics.SetGauge("simkms_token_policy_objects",
                                   static_cast<double>(services_.token_policy.objects.load()));
        services_.metrics.SetGauge("simkms_token_policy_violations",
                                   static_cast<double>(services_.token_policy.violations.load()));
        return Respond(200, services_.metrics.Render(), keep_alive, "text/plain; version=0.0.4");
      }
      if (req.method() == http::verb::get && req.target() == "/healthz") {
        services_.health_check.Run(stream_.get_executor(), [self = this->shared_from_this(), keep_alive](
                                                               HealthAnswer answer) {
          self->Respond(answer.status, std::move(answer.body), keep_alive);
        });
        return;
      }
      return Respond(404, R"({"error":{"code":"NOT_FOUND","message":"no such resource"}})", keep_alive);
    }
    ApiRequest api{std::string(req.method_string()), std::string(req.target()), std::move(req.body()), role_,
                   identity_};
    const auto started = std::chrono::steady_clock::now();
    services_.crypto.Post([self = this->shared_from_this(), api = std::move(api), keep_alive,
                           started](p11::Session& session) mutable {
      ApiResponse response;
      {
        // Request bodies may carry an activation code: wiped as soon as handled.
        WipeOnExit wipe_body(api.body);
        response = HandleApiRequest(self->services_, session, api);
      }
      asio::post(self->stream_.get_executor(), [self, response = std::move(response), keep_alive, started]() mutable {
        self->services_.metrics.Observe("simkms_api_request_seconds",
                                        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        self->services_.metrics.Count("simkms_api_requests_total", "status", std::to_string(response.status));
        self->Respond(response.status, std::move(response.body), keep_alive);
      });
    });
  }

  void Respond(int status, std::string body, bool keep_alive, const char* type = "application/json") {
    busy_ = true;
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
    res->set(http::field::server, "kmsd");
    res->set(http::field::content_type, type);
    res->keep_alive(keep_alive);
    res->body() = std::move(body);
    res->prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(Timeout());
    http::async_write(stream_, *res, [self = this->shared_from_this(), res, keep_alive](beast::error_code ec, std::size_t) {
      WipeOnExit wipe_body(res->body());  // a PUK read's answer carries the PUK
      self->busy_ = false;
      if (self->owes_answer_) self->membership_.Owe(-1);
      self->owes_answer_ = false;
      if (ec || !keep_alive || self->services_.graceful_stop.stopping()) {
        return self->Close(ec ? "write_error" : "done");
      }
      self->Read();
    });
  }

  // As Beast's advanced_server_flex: TLS ends with close_notify, the peer's
  // answer awaited at most the read timeout (tcp_stream's expiry closes the
  // socket, which ends the shutdown); then the socket closes.
  void Close(const char*) {
    if constexpr (kTls) {
      if (handshake_done_) {
        beast::get_lowest_layer(stream_).expires_after(Timeout());
        stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->CloseSocket(); });
        return;
      }
    }
    CloseSocket();
  }

  void CloseSocket() {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).close();
  }

  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  Stream stream_;
  ConnectionSlot slot_;  // this connection's place under the listener's cap
  Services& services_;
  const ListenerConfig& listener_;
  HttpKind kind_;
  bool handshake_done_ = false;
  GracefulStop::Membership membership_;
  bool busy_ = false;         // a request is being answered or an answer written: a stop waits for it
  bool owes_answer_ = false;  // Handle took on a request whose answer is not written yet
  // What is read from the socket (request bodies may carry an activation code):
  // wiped whenever Beast frees or grows it.
  beast::basic_flat_buffer<CleansingAllocator<char>> buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string role_;
  std::string identity_;
};

}  // namespace

StatusOr<std::unique_ptr<TcpListener>> StartHttpListener(asio::io_context& io, const ListenerConfig& listener,
                                                         std::shared_ptr<asio::ssl::context> tls, HttpKind kind,
                                                         Services& services) {
  if (kind == HttpKind::kMetrics) {
    for (const char* ckr : kTokenLostCkrs) services.metrics.Declare("simkms_token_errors_total", {{"ckr", ckr}});
  }
  // The listener config lives in the Daemon's Config, which outlives the listener and its sessions.
  return StartTcpListener(io, listener, services.metrics,
                          [&listener, tls, kind, &services](tcp::socket socket, ConnectionSlot slot) {
                            if (services.graceful_stop.stopping()) return;
                            if (tls) {
                              std::make_shared<HttpConnection<TlsStream>>(TlsStream(std::move(socket), *tls),
                                                                          std::move(slot), services, listener, kind)
                                  ->Start();
                            } else {
                              std::make_shared<HttpConnection<PlainStream>>(PlainStream(std::move(socket)),
                                                                            std::move(slot), services, listener, kind)
                                  ->Start();
                            }
                          });
}

}  // namespace simkms::daemon
