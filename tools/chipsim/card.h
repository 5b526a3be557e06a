// The card: a Toolkit SIM/USIM at its T=0 APDU interface. It owns the card's
// non-volatile memory (ChipState) and the volatile state a real card loses on
// every reset (current file, PIN verified, response data waiting for GET
// RESPONSE), decodes command APDUs and answers exactly as a T=0 card would:
// response data, then SW1 SW2.
//
//   CLA A0            the GSM SIM command set (TS 51.011, TS 51.014): response
//                     data announced by 9F XX;
//   CLA 00 / 80       the UICC/USIM command set (TS 102 221, TS 31.102): 61 XX;
//   91 XX             in either, instead of 90 00, while the toolkit applet has a
//                     proactive command of XX bytes waiting for FETCH.
//
// The commands, file system, status words and access rules are documented in
// docs/chip-simulator.md; the crypto is the card's own, in software
// (softcrypto/milenage.h over SoftwareAes128), the same functions the AC runs in the
// token.
#pragma once

#include <cstdint>
#include <memory>

#include "base/bytes.h"
#include "tools/chipsim/chip_state.h"
#include "tools/chipsim/toolkit_applet.h"

namespace simkms::chip {

class Card {
 public:
  // `applet` may be null (a card without toolkit application: ENVELOPE, FETCH
  // and TERMINAL RESPONSE are "function not supported"); otherwise it must
  // outlive the card. The card is powered off until PowerOn().
  Card(ChipState state, ToolkitApplet* applet);
  ~Card();
  Card(Card&&) noexcept;
  Card& operator=(Card&&) noexcept;

  // Cold reset: returns the ATR (T=0, class B and C) and clears the volatile state: MF
  // selected, PIN not verified, no response data pending.
  Bytes PowerOn();
  // Deactivation: every command is answered 6F 00 until the next PowerOn().
  void PowerOff();
  // The ATR PowerOn() returns (TS 102 221 §6.3), without a reset.
  static Bytes Atr();

  // One command APDU (the 5-byte header CLA INS P1 P2 P3 and P3 data bytes, or
  // a 4-byte case-1 header) -> response data followed by SW1 SW2. Never fails:
  // every problem is a status word. Before PowerOn() every command is answered
  // 6F 00 (a card without power does not answer; no handset sends one).
  Bytes Transmit(ByteView command_apdu);

  const ChipState& state() const;
  // Incremented each time a command may have changed the non-volatile state
  // (PIN/PUK counters, SQN array, keys, whatever the applet touched): a caller
  // that persists the image saves when it differs from the value it saved at.
  uint64_t state_generation() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace simkms::chip
