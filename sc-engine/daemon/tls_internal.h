// TLS for kmsd's listeners: TLS 1.3 only, a client certificate required and
// verified against the configured CA; the certificate's subject CN is mapped to
// a role by the listener's configuration.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <string>

#include "base/status.h"
#include "sc-engine/daemon/config.h"

namespace simkms::daemon {

StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(const Config& config);

// The verified peer certificate's subject CN; empty if there is none.
std::string PeerCommonName(SSL* ssl);

}  // namespace simkms::daemon
