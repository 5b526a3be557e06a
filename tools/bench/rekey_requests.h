// The operator's side of a re-key for sc-bench: kmsd re-keys a chip only when
// the operator has asked for it (POST /v1/subscribers/{imsi}/rekey moves the
// subscriber to REKEY_PENDING; docs/api.md), so a benchmark of re-keys
// first sends that request for every chip, over kmsd's plaintext operator API on
// loopback (bench.sh's kmsd maps clients without a certificate to operator).
// Blocking HTTP/1.1 keep-alive clients, one thread each; a failed connection is
// reopened once per request.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "tools/bench/api_connection.h"  // ParseIpv4Endpoint, for sc-bench

namespace simkms::bench {

struct RekeyRequestResult {
  std::vector<bool> accepted;                // per IMSI: kmsd answered 200
  std::map<std::string, uint64_t> errors;    // "http:409", "connection", ...
  double seconds = 0;                        // wall time of all requests
};

// Asks kmsd at `endpoint` to re-key each of `imsis`, over `connections`
// concurrent connections. Fails only when no connection can be opened at all.
StatusOr<RekeyRequestResult> RequestRekeys(const std::string& endpoint, const std::vector<std::string>& imsis,
                                           std::size_t connections);

}  // namespace simkms::bench
