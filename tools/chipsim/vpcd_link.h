// The card behind vsmartcard's virtual smart card reader (vpcd, a PC/SC
// reader driver for pcscd): `chipsim vpcd` connects to the reader over TCP and
// answers it as the card in the reader, so that PC/SC tools (pySim-shell,
// pyscard, opensc-tool) talk to the simulated card. docs/chip-simulator.md,
// "PC/SC reader (vpcd)".
//
// The reader's protocol (vsmartcard's virtual smart card protocol): every message either
// way is a 2-byte big-endian length and that many bytes. From the reader, a
// 1-byte message is a control: 00 power off, 01 power on, 02 reset, 04 the
// ATR (answered with the ATR); a longer one is a command APDU, answered with
// the response APDU (data, SW1 SW2). Power on/off/reset are not answered.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "tools/chipsim/card.h"

namespace simkms::chip {

// vpcd's default port: its reader 0 listens on 0x8C7B (its reader.conf's
// CHANNELID).
inline constexpr uint16_t kVpcdDefaultPort = 35963;

struct VpcdOptions {
  std::string host = "127.0.0.1";
  uint16_t port = kVpcdDefaultPort;
  // How long to keep trying while the reader is not listening yet (pcscd
  // still starting), every 100 ms.
  int connect_timeout_ms = 10000;
};

// The command APDU as the T=0 card takes it (ISO 7816-3 §12.2, what a T=0
// reader does before the card sees a command): a short case-4 APDU (header,
// Lc, data, Le) loses its Le; the card answers 61 XX and the application sends
// GET RESPONSE. Every other APDU passes unchanged.
Bytes ToT0Command(ByteView apdu);

// Connects to the reader and serves `card` until the reader closes the
// connection (pcscd stopped: OK). `after_command` runs after every command
// APDU (the CLI saves the image there); its error ends the session with it.
// Unavailable if the reader cannot be reached in time; DataLoss for a malformed
// message from it.
Status ServeVpcd(const VpcdOptions& options, Card& card, const std::function<Status()>& after_command);

}  // namespace simkms::chip
