#include "tools/chipsim/ki_holder_tap.h"

#include <chrono>
#include <cstdio>
#include <variant>

namespace simkms::chip {
namespace {

constexpr char kBlindGuess[] = "000000";

std::string Seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", s);
  return text;
}

}  // namespace

KiHolderTap::KiHolderTap(std::string imsi, KiHolderProxy proxy, KiHolderTapOptions options)
    : imsi_(std::move(imsi)), proxy_(std::move(proxy)), options_(std::move(options)) {}

std::string KiHolderTap::Describe(const protocol::Error& error) {
  using protocol::ErrorCode;
  switch (error.code) {
    case ErrorCode::kUnknownSession:
      return "unknown session";
    case ErrorCode::kBadDhValue:
      return "bad DH value";
    case ErrorCode::kWrongRes:
      return "wrong RES";
    case ErrorCode::kWrongActivationCode:
      return "wrong activation code" +
             (error.tries_left ? ", tries left " + std::to_string(*error.tries_left) : std::string());
    case ErrorCode::kLocked:
      return "locked";
    case ErrorCode::kStateForbids:
      return "the subscriber's state forbids a first call";
    case ErrorCode::kInternal:
      return "internal error";
  }
  return "error " + std::to_string(static_cast<int>(error.code));
}

StatusOr<Bytes> KiHolderTap::Upward(const std::string& imsi, Bytes packet) {
  if (imsi != imsi_) return packet;  // another subscriber's: not this attack
  switch (stage_) {
    case Stage::kHello:
      return OnHello(std::move(packet));
    case Stage::kConfirm:
      return OnConfirm(std::move(packet));
    case Stage::kAside:
      return packet;
    case Stage::kChallenge:
    case Stage::kAnswer:
      break;
  }
  // The chip sent again before the SC answered (the gateway gave up waiting):
  // this is no longer the exchange the tap is in the middle of.
  return FailedPreconditionError("K1 holder in the middle: a chip packet while waiting for the SC's answer");
}

StatusOr<Bytes> KiHolderTap::Downward(const std::string& imsi, Bytes packet) {
  if (imsi != imsi_) return packet;
  switch (stage_) {
    case Stage::kChallenge:
      return OnChallenge(std::move(packet));
    case Stage::kAnswer:
      return OnAnswer(std::move(packet));
    case Stage::kAside:
      return packet;
    case Stage::kHello:
    case Stage::kConfirm:
      break;
  }
  return FailedPreconditionError("K1 holder in the middle: an SC packet nobody asked for");
}

StatusOr<Bytes> KiHolderTap::OnHello(Bytes packet) {
  StatusOr<Bytes> forged = proxy_.ForgeHello(packet);
  if (!forged.ok()) {
    // Nothing forged yet: the tap can leave this call alone entirely.
    options_.say("ki-holder: the chip's packet is not a first-call HELLO under Ki_1 (" + forged.status().message() +
                 "): nothing to attack, stepping aside");
    stage_ = Stage::kAside;
    return packet;
  }
  report_.attacked = true;
  options_.say("ki-holder: opened the chip's HELLO with Ki_1's OTA keys, put its own DH share in place of the chip's");
  stage_ = Stage::kChallenge;
  return forged;
}

StatusOr<Bytes> KiHolderTap::OnChallenge(Bytes packet) {
  StatusOr<Bytes> forged = proxy_.ForgeChallenge(packet);
  if (!forged.ok()) {
    // The SC refused the forged HELLO (an ERROR: locked, state): the chip gets that answer as it is.
    auto answer = proxy_.OpenAnswer(packet);
    if (answer.ok() && std::holds_alternative<protocol::Error>(*answer)) {
      report_.sc_error = std::get<protocol::Error>(*answer);
      options_.say("ki-holder: the SC refused the forged HELLO: " + Describe(*report_.sc_error) +
                   "; its answer goes on to the chip unchanged, stepping aside");
      stage_ = Stage::kAside;
      return packet;
    }
    return forged.status().WithContext("K1 holder in the middle: the SC's answer to the HELLO");
  }
  report_.code_required = proxy_.code_required();
  options_.say(std::string("ki-holder: opened the SC's CHALLENGE (") +
               (report_.code_required ? "activation code required" : "no activation code") +
               ") and put its own DH share in place of the SC's");
  stage_ = Stage::kConfirm;
  return forged;
}

StatusOr<Bytes> KiHolderTap::OnConfirm(Bytes packet) {
  StatusOr<bool> opened = proxy_.OpenConfirm(packet);
  if (!opened.ok()) return opened.status().WithContext("K1 holder in the middle: the chip's CONFIRM");
  const bool has_proof = *opened;
  std::string guess = kBlindGuess;
  if (has_proof) {
    const auto started = std::chrono::steady_clock::now();
    uint32_t searched = 0;
    for (uint32_t n = options_.first_code; n < 1000000 && searched < options_.code_count; ++n, ++searched) {
      const std::string code = SixDigitCode(n);
      StatusOr<bool> match = proxy_.Proves(code);
      if (!match.ok()) return match.status().WithContext("K1 holder in the middle: offline search");
      if (*match) report_.found.push_back(code);
    }
    report_.codes_searched = searched;
    report_.search_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    options_.say("ki-holder: offline search over " + std::to_string(searched) + " codes found " +
                 std::to_string(report_.found.size()) + (report_.found.size() == 1 ? " candidate" : " candidates") +
                 " (" + Seconds(report_.search_seconds) + " s)");
    if (!report_.found.empty()) guess = report_.found.front();
    options_.say("ki-holder: sent the SC a forged CONFIRM proving the code " + guess +
                 (report_.found.empty() ? " (a blind guess)" : " (found offline)"));
  } else {
    options_.say("ki-holder: the contract has no activation code: nothing to search, the forged CONFIRM needs none");
  }
  StatusOr<Bytes> forged = proxy_.ForgeConfirm(guess);
  if (!forged.ok()) return forged.status().WithContext("K1 holder in the middle: forging the CONFIRM");
  if (has_proof) report_.guess = guess;
  stage_ = Stage::kAnswer;
  return forged;
}

Bytes KiHolderTap::OnAnswer(Bytes packet) {
  StatusOr<protocol::Message> answer = proxy_.OpenAnswer(packet);
  if (!answer.ok()) {
    options_.say("ki-holder: cannot open the SC's answer to the forged CONFIRM (" + answer.status().message() + ")");
  } else if (const auto* error = std::get_if<protocol::Error>(&*answer)) {
    report_.sc_error = *error;
    options_.say("ki-holder: the SC refused the forged CONFIRM: " + Describe(*error));
  } else if (std::holds_alternative<protocol::Commit>(*answer)) {
    report_.sc_committed = true;
    options_.say("ki-holder: the SC committed the K1 holder's exchange: it knows this subscriber's Ki_2 and PUK");
  } else {
    options_.say("ki-holder: the SC answered the forged CONFIRM with neither ERROR nor COMMIT");
  }
  options_.say("ki-holder: the SC's answer goes on to the chip unchanged; stepping aside");
  stage_ = Stage::kAside;
  return packet;
}

}  // namespace simkms::chip
