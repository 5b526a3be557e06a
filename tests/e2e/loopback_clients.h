// Blocking loopback clients for the end-to-end tests of kmsd's sockets, shared by
// the single-node fixture (kmsd_fixture.h) and the cluster fixture
// (cluster_fixture.h): HTTP/1.1 on the operator API and metrics listeners, gateway
// frames on the chip channel, and the chips a manufacturer makes from a K1 export.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "sc-engine/protocol/chip_role.h"

namespace simkms::e2e {

struct HttpResult {
  int status = 0;  // 0: no answer (refused, closed, timed out)
  std::string body;
};

// A TCP connection to 127.0.0.1:port; -1 if refused.
int ConnectLoopback(uint16_t port);
// One plaintext HTTP/1.1 request on its own connection.
HttpResult LoopbackHttp(uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body = "", int timeout_ms = 5000);
// Sends one secured packet from the chip on the gateway connection *fd (connected
// to `port` first if *fd < 0) and waits for the answer; nullopt if none came within
// the timeout (the connection is then closed and *fd reset, so the next call
// reconnects).
std::optional<Bytes> GatewayExchange(int* fd, uint16_t port, const std::string& imsi, const Bytes& packet,
                                     int timeout_ms = 5000);
// Sends raw bytes on a fresh gateway connection; what came back before close/timeout.
std::string RawGatewayExchange(uint16_t port, const std::string& bytes, int timeout_ms);

// A pre-personalized chip as the manufacturer makes it from the K1 export (the
// export file's JSON and the manufacturer's RSA key in PEM).
protocol::ChipProtocolState MakeChipFromExport(const std::string& k1_export_json, const std::string& mfr_key_pem,
                                               const std::string& imsi);
// The n-th ICCID after `first` (19 or 20 digits with the Luhn digit): body + n, new Luhn
// digit. Throws std::invalid_argument for an invalid ICCID (a test's own mistake).
std::string IccidAfter(const std::string& first, int n);

}  // namespace simkms::e2e
