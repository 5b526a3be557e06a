// The chip channel listener: TCP (TLS when configured) from the OTA gateway,
// frames as docs/protocol.md §7.2, each secured packet handled by the
// ChipChannel on a crypto worker and answered on the same connection. The
// accept loop, cap and back-off are the shared Listener's (listener_internal.h).
#pragma once

#include <memory>

#include "base/status.h"
#include "sc-engine/daemon/listener_internal.h"
#include "sc-engine/daemon/services_internal.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace simkms::daemon {

// Binds, listens and serves; tls may be null for a plaintext listener.
StatusOr<std::unique_ptr<TcpListener>> StartChipGatewayListener(boost::asio::io_context& io,
                                                                const ListenerConfig& listener,
                                                                std::shared_ptr<boost::asio::ssl::context> tls,
                                                                Services& services);

}  // namespace simkms::daemon
