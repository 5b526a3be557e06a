// A blocking GSUP-over-IPA client on our codec (sc-engine/gsup), for what
// libosmo-gsup-client will not send: raw bytes, malformed frames, any request. Used
// against kmsd and, for comparison, against osmo-hlr.
#pragma once

#include <optional>
#include <string>

#include "base/bytes.h"
#include "sc-engine/gsup/gsup.h"
#include "sc-engine/gsup/ipa.h"

namespace simkms::e2e {

class RawGsupClient {
 public:
  explicit RawGsupClient(int fd) : fd_(fd) {}
  ~RawGsupClient();
  RawGsupClient(const RawGsupClient&) = delete;
  RawGsupClient& operator=(const RawGsupClient&) = delete;

  void Send(const Bytes& bytes);
  void SendHex(const std::string& hex) { Send(FromHex(hex).value()); }

  // The next frame; nullopt on timeout or when the server closed the connection (closed()).
  std::optional<gsup::IpaFrame> ReadFrame(int timeout_ms = 5000);

  // Reads the server's ID_GET and answers it as libosmo-gsup-client does.
  void Identify(const std::string& serial);

  void SendGsup(const Bytes& message) { Send(gsup::EncodeGsupFrame(message).value()); }

  // The next GSUP message (CCM frames skipped); nullopt if none within the timeout.
  std::optional<gsup::Message> ReadGsup(int timeout_ms = 5000);
  // The next GSUP message's bytes as received (after the 0x05 extension byte).
  std::optional<Bytes> ReadGsupBytes(int timeout_ms = 5000);

  std::optional<gsup::Message> Ask(const gsup::Message& request) {
    SendGsup(gsup::Encode(request).value());
    return ReadGsup();
  }

  // True if the server closes the connection within the timeout.
  bool ClosedWithin(int timeout_ms);

 private:
  int fd_;
  gsup::IpaDecoder decoder_;
  Bytes pending_;
  bool closed_ = false;
};

// A SEND_AUTH_INFO request for `imsi` addressed to another HLR (DESTINATION_NAME
// "OTHER-HLR", SOURCE_NAME "MSC-1", both with osmo-msc's NUL; session 7 BEGIN):
// what an HLR that routes nothing answers with ROUTING_ERROR.
gsup::Message RequestForAnotherHlr(const std::string& imsi);

}  // namespace simkms::e2e
