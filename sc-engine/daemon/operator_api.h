// The operator API (HTTPS + JSON) and the metrics/health endpoints (HTTP),
// both served with Boost.Beast. The API's routes and its JSON are in
// docs/api.md; every request is authorised by the role its client certificate
// maps to (policy/roles.h) and runs on a crypto worker, never on an I/O thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>

#include "base/status.h"
#include "sc-engine/daemon/services.h"

namespace simkms::daemon {

// A request as the router sees it (after TLS and role mapping).
struct ApiRequest {
  std::string method;  // "GET", "POST", "DELETE"
  std::string target;  // "/v1/subscribers/262019876500000"
  std::string body;
  std::string role;       // from the client certificate
  std::string identity;   // the certificate's CN
};
struct ApiResponse {
  int status = 200;
  std::string body;  // JSON
};

// Routes one request; runs on a crypto worker with its token session.
ApiResponse HandleApiRequest(Services& services, p11::Session& session, const ApiRequest& request);

class HttpServer {
 public:
  enum class Kind { kOperatorApi, kMetrics };
  static StatusOr<std::unique_ptr<HttpServer>> Start(boost::asio::io_context& io, const ListenerConfig& listener,
                                                     std::shared_ptr<boost::asio::ssl::context> tls, Kind kind,
                                                     Services& services);
  void Stop();
  uint16_t port() const;

 private:
  HttpServer(boost::asio::io_context& io, const ListenerConfig& l, std::shared_ptr<boost::asio::ssl::context> tls,
             Kind kind, Services& services);
  void Accept();

  boost::asio::io_context& io_;
  ListenerConfig listener_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  Kind kind_;
  Services& services_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace simkms::daemon
