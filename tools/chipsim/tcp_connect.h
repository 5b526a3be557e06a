// A TCP connection to HOST:PORT, the first address that accepts (IPv4 or
// IPv6): how the handset model reaches the OTA gateway's SC (ota_link.h) and
// how the card reaches vsmartcard's virtual reader (vpcd_link.h).
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace simkms::chip {

// The connected socket (SOCK_CLOEXEC; the caller closes it). Unavailable,
// naming `what` and the address, if no address accepts or the name does not
// resolve.
StatusOr<int> ConnectTcp(const std::string& host, uint16_t port, const std::string& what);

}  // namespace simkms::chip
