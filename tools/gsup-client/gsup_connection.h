// A GSUP client connection as an MSC/SGSN's libosmo-gsup-client makes it: TCP,
// the IPA CCM identity exchange (the server's ID_GET answered with ID_RESP
// carrying UNIT and SERNR), PINGs answered, then SEND_AUTH_INFO requests
// answered in order. Blocking POSIX sockets with a deadline on every read: a
// command-line tool, not a server.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "sc-engine/gsup/gsup.h"
#include "sc-engine/gsup/ipa.h"

namespace simkms::gsup_client {

struct Endpoint {
  std::string host;
  uint16_t port = 0;
};
// "HOST:PORT", "[v6]:PORT". InvalidArgument otherwise.
StatusOr<Endpoint> ParseEndpoint(const std::string& text);

class GsupConnection {
 public:
  GsupConnection() = default;
  ~GsupConnection();
  GsupConnection(const GsupConnection&) = delete;
  GsupConnection& operator=(const GsupConnection&) = delete;

  // Connects and completes the identity exchange: waits for the server's
  // ID_GET and answers ID_RESP with UNIT "0/0/0" and SERNR `name` (osmo-hlr
  // keys the SQN's IND on it). Unavailable if the server is unreachable or
  // sends no ID_GET within `timeout_ms`.
  Status Connect(const Endpoint& endpoint, const std::string& name, int timeout_ms);

  // Sends `request` and returns the next GSUP message for the same IMSI
  // (PINGs on the way are answered). Unavailable when nothing comes within
  // the timeout or the server closes; InvalidArgument for an undecodable answer.
  StatusOr<gsup::Message> Exchange(const gsup::Message& request);

 private:
  Status SendAll(ByteView data);
  // The next IPA frame, answering PINGs on the way.
  StatusOr<gsup::IpaFrame> ReadFrame();

  int fd_ = -1;
  int timeout_ms_ = 5000;
  gsup::IpaDecoder decoder_;
  Bytes pending_;  // bytes read but not yet fed to the decoder
};

}  // namespace simkms::gsup_client
