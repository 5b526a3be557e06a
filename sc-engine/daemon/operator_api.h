// The operator API (HTTPS + JSON) and the metrics/health endpoints (HTTP),
// both served with Boost.Beast. The API's routes and its JSON are in
// docs/api.md; every request is authorised by the role its client certificate
// maps to (policy/roles.h) and runs on a crypto worker, never on an I/O thread.
// The accept loop, cap and back-off are the shared Listener's (listener_internal.h).
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "sc-engine/daemon/listener_internal.h"
#include "sc-engine/daemon/services_internal.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace simkms::daemon {

// A request as the router sees it (after TLS and role mapping).
struct ApiRequest {
  std::string method;  // "GET", "POST", "DELETE"
  std::string target;  // "/v1/subscribers/001019876500000"
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

enum class HttpKind { kOperatorApi, kMetrics };

// Binds, listens and serves the operator API or the metrics/health endpoints;
// tls may be null for a plaintext listener.
StatusOr<std::unique_ptr<TcpListener>> StartHttpListener(boost::asio::io_context& io, const ListenerConfig& listener,
                                                         std::shared_ptr<boost::asio::ssl::context> tls, HttpKind kind,
                                                         Services& services);

}  // namespace simkms::daemon
