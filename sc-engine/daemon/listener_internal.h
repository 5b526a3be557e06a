// The accept loop of every kmsd listener (operator API, metrics, chip channel,
// GSUP, admin socket), after Beast's advanced_server_flex example: a Listener
// owns its acceptor and accepts until stopped; what a connection speaks is the
// caller's (OnAccept: a protocol session, stream_session_internal.h or http_server.cc).
// What it adds to a bare accept loop, so that no listener has to redo it:
//  - a cap (ListenerConfig::max_connections): at the cap a new connection is
//    accepted and closed at once, not left in the backlog, where the peer would
//    wait on a connection nobody reads and the refusal could not be counted;
//  - back-off: an accept that fails leaves the connection in the backlog, so
//    re-arming at once fails again at once, a busy loop when descriptors run
//    out (EMFILE). It waits 50 ms, doubling up to 1 s, reset by a success;
//  - counts: simkms_connections{listener} (open now, connection_slot_internal.h) and
//    simkms_connections_refused_total{listener, reason="cap"|"fd_exhausted"|
//    "accept_error"}; an accept error is logged once per kind and listener.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "sc-engine/daemon/config.h"
#include "sc-engine/daemon/connection_slot_internal.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace simkms::daemon {

class Metrics;

template <class Protocol>
class Listener {
 public:
  using Socket = typename Protocol::socket;
  using Endpoint = typename Protocol::endpoint;
  // Runs on the listener's strand with a socket on a strand of its own (each
  // connection is serialised on its own strand) and the connection's slot,
  // which its session is to keep until it is destroyed.
  using OnAccept = std::function<void(Socket socket, ConnectionSlot slot)>;

  // Binds, listens and starts accepting. `name` labels the metrics and the
  // errors ("operator_api", "chip_channel", "auc", "metrics", "admin"). A Unix
  // socket's file is created 0600, replacing a stale one, and removed by Stop.
  static StatusOr<std::unique_ptr<Listener>> Start(boost::asio::io_context& io, const Endpoint& endpoint,
                                                   const std::string& name, std::size_t max_connections,
                                                   Metrics& metrics, OnAccept on_accept);
  ~Listener();  // Stop()
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Stops accepting (connections already open carry on). Idempotent.
  void Stop();
  Endpoint local_endpoint() const;

 private:
  struct Loop;
  explicit Listener(std::shared_ptr<Loop> loop) : loop_(std::move(loop)) {}
  std::shared_ptr<Loop> loop_;  // shared with its pending handlers
};

using TcpListener = Listener<boost::asio::ip::tcp>;
using UnixListener = Listener<boost::asio::local::stream_protocol>;
extern template class Listener<boost::asio::ip::tcp>;
extern template class Listener<boost::asio::local::stream_protocol>;

// A TCP listener on a listener's configured address and port, with its cap.
StatusOr<std::unique_ptr<TcpListener>> StartTcpListener(boost::asio::io_context& io, const ListenerConfig& config,
                                                        Metrics& metrics, TcpListener::OnAccept on_accept);

}  // namespace simkms::daemon
