// The chip channel listener: TCP (TLS when configured) from the OTA gateway,
// frames as docs/protocol.md §7.2, each secured packet handled by the
// ChipChannel on a crypto worker and answered on the same connection.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <memory>

#include "base/status.h"
#include "sc-engine/daemon/services.h"

namespace simkms::daemon {

class ChipGatewayServer {
 public:
  // Binds and listens; tls may be null for a plaintext listener.
  static StatusOr<std::unique_ptr<ChipGatewayServer>> Start(boost::asio::io_context& io, const ListenerConfig& listener,
                                                            std::shared_ptr<boost::asio::ssl::context> tls,
                                                            Services& services);
  void Stop();
  uint16_t port() const;

 private:
  ChipGatewayServer(boost::asio::io_context& io, const ListenerConfig& l, std::shared_ptr<boost::asio::ssl::context> tls,
                    Services& services);
  void Accept();

  boost::asio::io_context& io_;
  ListenerConfig listener_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  Services& services_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace simkms::daemon
