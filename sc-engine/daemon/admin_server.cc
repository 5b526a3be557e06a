#include "sc-engine/daemon/admin_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <chrono>

#include "sc-engine/engine/admin_commands.h"
#include "sc-engine/engine/record_json.h"

namespace simkms::daemon {
namespace {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;

std::string Reply(const StatusOr<sc::AdminJson>& result) {
  sc::AdminJson j;
  if (result.ok()) {
    j["ok"] = true;
    j["result"] = *result;
  } else {
    j["ok"] = false;
    j["error"] = {{"code", std::string(StatusCodeName(result.status().code()))},
                  {"message", result.status().message()}};
  }
  return sc::DumpJson(j) + "\n";
}

class AdminConnection : public std::enable_shared_from_this<AdminConnection> {
 public:
  AdminConnection(local::socket socket, ConnectionSlot slot, Services& services)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), slot_(std::move(slot)), services_(services) {}

  void Start() {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || !Allowed(cred.uid)) {
      services_.metrics.Count("simkms_admin_requests_total", "outcome", "peer_refused");
      return Send(Reply(PermissionDeniedError("peer uid not allowed on the admin socket")));
    }
    peer_ = "uid:" + std::to_string(cred.uid);
    // When kmsd stops: a connection that sent no command yet closes now; a
    // command taken on is answered first.
    membership_ = services_.graceful_stop.Join([weak = weak_from_this(), executor = socket_.get_executor()] {
      asio::post(executor, [weak] {
        if (auto self = weak.lock(); self && !self->taken_on_) self->socket_.close();
      });
    });
    timer_.expires_after(std::chrono::milliseconds(services_.config.read_timeout_ms));
    timer_.async_wait([weak = weak_from_this()](auto ec) {
      if (auto self = weak.lock(); self && !ec) self->socket_.close();
    });
    asio::async_read_until(socket_, asio::dynamic_buffer(line_, services_.config.max_message_bytes), '\n',
                           [self = shared_from_this()](auto ec, std::size_t n) {
                             self->timer_.cancel();
                             if (ec) return;
                             if (self->services_.graceful_stop.stopping()) {
                               return self->Send(Reply(UnavailableError("kmsd is stopping")));
                             }
                             self->taken_on_ = true;
                             self->membership_.Owe(1);
                             std::string request = self->line_.substr(0, n);
                             self->services_.crypto.Post([self, request](p11::Session& session) {
                               std::string reply = HandleAdminCommand(self->services_, session, request, self->peer_);
                               asio::post(self->socket_.get_executor(), [self, reply] { self->Send(reply); });
                             });
                           });
  }

 private:
  bool Allowed(uid_t uid) const {
    if (uid == 0 || uid == geteuid()) return true;
    const auto& uids = services_.config.admin_uids;
    return std::find(uids.begin(), uids.end(), uid) != uids.end();
  }

  void Send(std::string reply) {
    reply_ = std::move(reply);
    asio::async_write(socket_, asio::buffer(reply_), [self = shared_from_this()](auto, std::size_t) {
      boost::system::error_code ignored;
      self->socket_.close(ignored);
    });
  }

  local::socket socket_;
  asio::steady_timer timer_;
  ConnectionSlot slot_;  // this connection's place under admin.max_connections
  GracefulStop::Membership membership_;
  bool taken_on_ = false;  // a command was read: a stop waits for its answer
  Services& services_;
  std::string line_;
  std::string reply_;
  std::string peer_;
};

}  // namespace

std::string HandleAdminCommand(Services& services, p11::Session& session, const std::string& request,
                               const std::string& peer) {
  auto result = services.admin_commands.RunRequest(session, {"custodian", peer}, request);
  services.metrics.Count("simkms_admin_requests_total", "outcome", result.ok() ? "ok" : "error");
  return Reply(result);
}

StatusOr<std::unique_ptr<UnixListener>> StartAdminListener(asio::io_context& io, const std::string& path,
                                                           Services& services) {
  return UnixListener::Start(io, local::endpoint(path), "admin", services.config.admin_max_connections,
                             services.metrics, [&services](local::socket socket, ConnectionSlot slot) {
                               if (services.graceful_stop.stopping()) return;
                               std::make_shared<AdminConnection>(std::move(socket), std::move(slot), services)->Start();
                             });
}

}  // namespace simkms::daemon
