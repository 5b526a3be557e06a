// The handset's part at the toolkit applet's level, without APDUs, for tests
// that drive a PersonalizationApplet directly (tests/chip, tests/e2e).
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tools/chipsim/ota_link.h"
#include "tools/chipsim/personalization_applet.h"
#include "tools/chipsim/sms.h"
#include "tools/chipsim/tlv.h"
#include "tests/support/status_testing.h"

namespace simkms::chip::testing {

inline Bytes CallControlEnvelope() {
  Bytes body;
  const uint8_t ids[] = {kDeviceTerminal, kDeviceUicc};
  AppendTlv(body, 0x82, ids);
  AppendTlv(body, 0x86, EncodeAddressValue({0x91, "4930123456"}).value());
  return MakeTlv(0xD4, body);
}

inline Bytes MenuSelectionEnvelope(uint8_t item) {
  Bytes body;
  const uint8_t ids[] = {kDeviceKeypad, kDeviceUicc};
  AppendTlv(body, 0x82, ids);
  const uint8_t id[] = {item};
  AppendTlv(body, 0x90, id);
  return MakeTlv(0xD3, body);
}

// The handset's part at the applet's level: FETCH, act, TERMINAL RESPONSE, and
// incoming SMS as SMS-PP download envelopes. (tests/chip/terminal_*_test.cc
// drive the same through the card's APDUs.)
struct Handset {
  Handset(PersonalizationApplet& a, ChipState& c, SmsNetwork& n, std::string i)
      : applet(a), chip(c), network(n), imsi(std::move(i)) {}
  PersonalizationApplet& applet;
  ChipState& chip;
  SmsNetwork& network;
  std::string imsi;
  std::vector<std::string> display;
  std::vector<GetInput> asked;
  std::deque<std::optional<std::string>> keypad;  // nullopt: the customer cancels
  std::vector<Status> envelope_errors;
  std::function<void()> while_typing;  // runs while the customer types (e.g. takes long)

  void Run() {
    Deliver();
    while (auto encoded = applet.PendingProactiveCommand()) {
      FetchedCommand f = DecodeProactiveCommand(*encoded).value();
      applet.OnFetched();
      ASSERT_FALSE(applet.PendingProactiveCommand().has_value());
      TerminalResponse r;
      r.details = f.details;
      ASSERT_TRUE(f.command.has_value());
      if (auto* sms = std::get_if<SendShortMessage>(&*f.command)) {
        if (!network.Submit(imsi, sms->tpdu).ok()) r.result = GeneralResult::kNetworkUnableNow;
      } else if (auto* text = std::get_if<DisplayText>(&*f.command)) {
        display.push_back(text->text);
      } else if (auto* input = std::get_if<GetInput>(&*f.command)) {
        asked.push_back(*input);
        if (while_typing) while_typing();
        std::optional<std::string> typed = keypad.empty() ? std::nullopt : keypad.front();
        if (!keypad.empty()) keypad.pop_front();
        if (typed) {
          r.text = SecretBytes::Copy(AsBytes(*typed));
        } else {
          r.result = GeneralResult::kTerminatedByUser;
        }
      }
      ASSERT_OK(applet.OnTerminalResponse(chip, r));
      Deliver();
    }
  }
  void Deliver() {
    while (auto tpdu = network.Receive(imsi)) {
      auto envelope = EncodeSmsPpEnvelope({std::nullopt, *tpdu}).value();
      auto answer = applet.OnEnvelope(chip, envelope);
      if (!answer.ok()) envelope_errors.push_back(answer.status());
      else EXPECT_TRUE(answer->empty());
    }
  }
  void Call() {
    auto answer = applet.OnEnvelope(chip, CallControlEnvelope());
    ASSERT_OK(answer);
    EXPECT_TRUE(answer->empty());  // allowed, no modification
    Run();
  }
};

}  // namespace simkms::chip::testing
