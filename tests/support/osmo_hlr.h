// A real osmo-hlr (Debian's osmo-hlr 1.5) for tests that compare kmsd's GSUP
// answers with the reference HLR's: started in a temporary directory with its own
// SQLite database, on loopback, stopped with the object.
//
// osmo-hlr 1.5 listens on fixed ports (GSUP 4222, VTY 4258, CTRL 4259; its VTY
// takes no port), so each one runs on a loopback address of its own, 127.a.b.c
// picked at random (as scripts/bench.sh does): tests in parallel, or an osmo-hlr of
// the machine's, never meet.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace simkms::testing {

class OsmoHlr {
 public:
  static constexpr uint16_t kGsupPort = 4222;
  static constexpr uint16_t kVtyPort = 4258;

  // Starts osmo-hlr with `ipa_name` (its GSUP name, for ROUTING_ERROR) and waits
  // until its GSUP port accepts. Fails the test (ADD_FAILURE, with its log) if it cannot.
  static std::unique_ptr<OsmoHlr> Start(const std::string& ipa_name);
  ~OsmoHlr();
  OsmoHlr(const OsmoHlr&) = delete;
  OsmoHlr& operator=(const OsmoHlr&) = delete;

  // Creates subscriber `imsi` with Milenage K and OPc (hex) through the VTY, as an
  // operator does; true when osmo-hlr confirmed both commands.
  bool AddMilenageSubscriber(const std::string& imsi, const std::string& k_hex, const std::string& opc_hex);
  // Gives subscriber `imsi` the MSISDN `msisdn` through the VTY; true when osmo-hlr
  // confirmed it. osmo-hlr sends INSERT_DATA to its connected peers on such a
  // change: call it before connecting a client that should not see one.
  bool SetMsisdn(const std::string& imsi, const std::string& msisdn);
  // Creates subscriber `imsi` without authentication data (enough for location updating).
  bool AddSubscriber(const std::string& imsi);
  std::string Log() const;
  // Its loopback address, and a new TCP connection to its GSUP port (-1 if refused).
  const std::string& address() const { return address_; }
  int ConnectGsup() const;

 private:
  OsmoHlr() = default;
  // The VTY's answer to `commands` (each sent after "enable"), up to its last prompt.
  std::string Vty(const std::vector<std::string>& commands);

  TempDir dir_;
  std::string address_;
  std::unique_ptr<BackgroundProcess> process_;
};

}  // namespace simkms::testing
