// A blocking HTTP/1.1 keep-alive client connection to kmsd's plaintext operator
// API on loopback (scripts/bench.sh's kmsd maps clients without a certificate to
// operator), for the load tools (sc-bench's re-key requests, contract-load):
// one request at a time, answers read by their Content-Length (kmsd's Beast
// server always sends one). Not thread-safe: one per thread.
#pragma once

#include <netinet/in.h>

#include <string>

#include "base/status.h"

namespace simkms::bench {

// "A.B.C.D:PORT" -> socket address; InvalidArgument otherwise.
StatusOr<sockaddr_in> ParseIpv4Endpoint(const std::string& endpoint);

class ApiConnection {
 public:
  explicit ApiConnection(const sockaddr_in& addr) : addr_(addr) {}
  ~ApiConnection() { Close(); }
  ApiConnection(const ApiConnection&) = delete;
  ApiConnection& operator=(const ApiConnection&) = delete;

  Status Open();
  // The HTTP status of POST `target` with `body` (JSON; may be empty); an error
  // if the exchange failed (the connection is then closed and the next call
  // reopens it).
  StatusOr<int> Post(const std::string& target, const std::string& body = "");

 private:
  void Close();

  sockaddr_in addr_;
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace simkms::bench
