// A GSUP client built on Debian's libosmo-gsup-client (osmo_gsup_client, the
// library osmo-msc and osmo-sgsn use to reach osmo-hlr), for the kmsd GSUP
// end-to-end test: the client library does the IPA CCM identity exchange and
// the framing itself, so kmsd is checked against the Osmocom implementation,
// not against our own codec. Linked into kmsd_gsup_test only
// (tests/e2e_gsup/libosmo.cmake); no libosmocore type leaks into this header.
//
// libosmocore runs a single-threaded select loop with global state: one client
// at a time per process; calls block, polling that loop, up to a timeout.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "sc-engine/gsup/gsup.h"

namespace simkms::e2e {

// What osmo_gsup_decode() made of kmsd's answer.
struct OsmoSaiAnswer {
  uint8_t message_type = 0;  // 0x0a result, 0x09 error
  std::string imsi;
  uint8_t cause = 0;                     // errors
  std::vector<gsup::AuthTuple> tuples;  // results
};

class OsmoGsupClient {
 public:
  // Connects to 127.0.0.1:port with IPA SERNR `serial` and waits until the link is up.
  static StatusOr<std::unique_ptr<OsmoGsupClient>> Connect(uint16_t port, const std::string& serial,
                                                           int timeout_ms = 5000);
  ~OsmoGsupClient();

  // SEND_AUTH_INFO_REQUEST as osmo-msc sends it (CN domain CS, message class
  // subscriber management), with NUM_VECTORS_REQ if given; the decoded answer.
  StatusOr<OsmoSaiAnswer> SendAuthInfo(const std::string& imsi, std::optional<uint8_t> num_vectors,
                                       int timeout_ms = 5000);

  struct State;

 private:
  explicit OsmoGsupClient(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace simkms::e2e
