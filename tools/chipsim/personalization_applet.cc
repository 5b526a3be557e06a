#include "tools/chipsim/personalization_applet.h"

#include <algorithm>

#include "base/wiped_buffer.h"
#include "sc-engine/protocol/secured_packet.h"
#include "tools/chipsim/sms.h"
#include "tools/chipsim/tlv.h"

namespace simkms::chip {
namespace {

constexpr uint8_t kTagSmsPpDownload = 0xD1;
constexpr uint8_t kTagMenuSelection = 0xD3;
constexpr uint8_t kTagCallControl = 0xD4;
constexpr uint8_t kTagDeviceIdentities = 0x02;
constexpr uint8_t kTagItemIdentifier = 0x10;
constexpr uint8_t kGeneralResultsOkBelow = 0x10;  // TS 102 223 §8.12: 0x0X = command performed

constexpr char kPromptActivationCode[] = "Enter activation code";
constexpr char kTextActivated[] = "SIM activated. Please change your PIN.";
constexpr char kTextRenewed[] = "SIM key renewed.";
constexpr char kTextCancelled[] = "Activation cancelled. Call again to retry.";
constexpr char kTextNoNetwork[] = "Service not reachable. Please try again later.";
constexpr char kTextBadCode[] = "The activation code has 6 to 16 digits.";

// TERMINAL PROFILE byte 4 b6: the terminal supports SET UP MENU (TS 102 223 §5.2).
constexpr std::size_t kProfileByteSetUpMenu = 3;
constexpr uint8_t kProfileBitSetUpMenu = 0x20;

constexpr std::size_t kActivationMinDigits = 6;  // policy::Limits bounds
constexpr std::size_t kActivationMaxDigits = 16;

Status CheckDeviceIdentities(const std::vector<Tlv>& tlvs, uint8_t source, const char* what) {
  const Tlv* ids = FindComprehension(tlvs, kTagDeviceIdentities);
  if (ids == nullptr || ids->value.size() != 2 || ids->value[0] != source || ids->value[1] != kDeviceUicc) {
    return InvalidArgumentError(std::string(what) + ": device identities must name the UICC as destination");
  }
  return OkStatus();
}

bool IsActivationCode(ByteView text) {
  if (text.size() < kActivationMinDigits || text.size() > kActivationMaxDigits) return false;
  return std::all_of(text.begin(), text.end(), [](uint8_t c) { return c >= '0' && c <= '9'; });
}

// The protocol's state lives only for one step; its PUK copies are plain strings.
struct ProtocolScratch {
  protocol::ChipProtocolState state;
  ~ProtocolScratch() {
    if (state.pending) WipeBufferContents(state.pending->puk);
  }
};

}  // namespace

PersonalizationApplet::PersonalizationApplet(std::string sc_number)
    : sc_number_(std::move(sc_number)),
      role_(MakePrompt()) {}

// ChipRole asks for the code synchronously; the customer answers a GET INPUT
// later. Until a code was typed the prompt fails (nothing changes in ChipRole)
// and flags that the applet must ask.
protocol::ChipRole::ActivationCodePrompt PersonalizationApplet::MakePrompt() {
  return [this]() -> StatusOr<std::string> {
    if (!typed_code_) {
      code_needed_ = true;
      return NotFoundError("activation code not entered yet");
    }
    return std::string(reinterpret_cast<const char*>(typed_code_->reveal().data()), typed_code_->size());
  };
}

std::string PersonalizationApplet::ErrorText(const protocol::Error& error) {
  using protocol::ErrorCode;
  switch (error.code) {
    case ErrorCode::kUnknownSession:
      return "Activation interrupted. Please call again.";
    case ErrorCode::kBadDhValue:
    case ErrorCode::kWrongRes:
      return "Key check failed. Please call again.";
    case ErrorCode::kWrongActivationCode:
      if (error.tries_left) {
        return "Wrong activation code. " + std::to_string(*error.tries_left) +
               (*error.tries_left == 1 ? " try left." : " tries left.");
      }
      return "Wrong activation code.";
    case ErrorCode::kLocked:
      return "SIM locked. Please contact your dealer.";
    case ErrorCode::kStateForbids:
      return "SIM cannot be activated now. Please contact your dealer.";
    case ErrorCode::kInternal:
      return "Service error. Please try again later.";
  }
  return "Activation failed.";
}

void PersonalizationApplet::ResetVolatile() {
  role_ = protocol::ChipRole(MakePrompt());
  reassembler_.Reset();
  queue_.clear();
  front_fetched_ = false;
  session_running_ = false;
  held_challenge_.reset();
  typed_code_.reset();
  code_needed_ = false;
}

Status PersonalizationApplet::OnTerminalProfile(ChipState& /*chip*/, ByteView profile) {
  if (profile.empty()) return InvalidArgumentError("TERMINAL PROFILE: empty");
  // A TERMINAL PROFILE follows every power-on: whatever the applet held in RAM is gone.
  ResetVolatile();
  // The SIM menu, so that the customer can ask for a re-key from the handset
  // (MENU SELECTION below); a terminal that cannot show one is not sent it.
  if (profile.size() > kProfileByteSetUpMenu && (profile[kProfileByteSetUpMenu] & kProfileBitSetUpMenu) != 0) {
    return Queue(SetUpMenu{kMenuTitle, {MenuItem{kMenuItemRenewKey, kMenuItemRenewKeyText}}});
  }
  return OkStatus();
}

StatusOr<Bytes> PersonalizationApplet::OnEnvelope(ChipState& chip, ByteView envelope) {
  if (envelope.empty()) return InvalidArgumentError("ENVELOPE: empty");
  switch (envelope[0]) {
    case kTagSmsPpDownload:
      return OnSmsPpDownload(chip, envelope);
    case kTagMenuSelection: {
      auto body = UnwrapTlv(envelope, kTagMenuSelection);
      if (!body.ok()) return body.status().WithContext("MENU SELECTION");
      return OnMenuSelection(chip, *body);
    }
    case kTagCallControl: {
      auto body = UnwrapTlv(envelope, kTagCallControl);
      if (!body.ok()) return body.status().WithContext("CALL CONTROL");
      return OnCallControl(chip, *body);
    }
    default:
      return InvalidArgumentError("ENVELOPE tag " + ToHex(envelope.first(1)) + " is not handled by this applet");
  }
}

StatusOr<Bytes> PersonalizationApplet::OnCallControl(ChipState& chip, ByteView body) {
  auto tlvs = ParseTlvs(body);
  if (!tlvs.ok()) return tlvs.status().WithContext("CALL CONTROL");
  SIMKMS_RETURN_IF_ERROR(CheckDeviceIdentities(*tlvs, kDeviceTerminal, "CALL CONTROL"));
  // A chip without its final key, or with a key the SC may have committed but
  // the chip has not, talks to the SC on every call attempt; a new attempt
  // while an exchange waits for an answer is the retry of docs/protocol.md §6.
  const bool needs_session = chip.active_key != ActiveKey::kKi2 || chip.pending.has_value();
  if (needs_session && queue_.empty()) {
    SIMKMS_RETURN_IF_ERROR(StartSession(chip));
  }
  // Empty response: "allowed, no modification" (TS 102 223 §7.3.1.6). The
  // network routes the call of a chip still hotlined to the SC's hotline.
  return Bytes();
}

StatusOr<Bytes> PersonalizationApplet::OnMenuSelection(ChipState& chip, ByteView body) {
  auto tlvs = ParseTlvs(body);
  if (!tlvs.ok()) return tlvs.status().WithContext("MENU SELECTION");
  SIMKMS_RETURN_IF_ERROR(CheckDeviceIdentities(*tlvs, kDeviceKeypad, "MENU SELECTION"));
  const Tlv* item = FindComprehension(*tlvs, kTagItemIdentifier);
  if (item == nullptr || item->value.size() != 1) {
    return InvalidArgumentError("MENU SELECTION: item identifier missing or not 1 byte");
  }
  if (item->value[0] != kMenuItemRenewKey) {
    return InvalidArgumentError("MENU SELECTION: unknown item " + std::to_string(item->value[0]));
  }
  if (!queue_.empty()) return UnavailableError("MENU SELECTION: a proactive session is running");
  SIMKMS_RETURN_IF_ERROR(StartSession(chip));
  return Bytes();
}

StatusOr<Bytes> PersonalizationApplet::OnSmsPpDownload(ChipState& chip, ByteView envelope) {
  auto pp = DecodeSmsPpEnvelope(envelope);
  if (!pp.ok()) return pp.status();
  auto sms = protocol::DecodeSmsDeliver(pp->tpdu);
  if (!sms.ok()) return sms.status().WithContext("SMS-PP download");
  if (sms->pid != protocol::kPidSimDataDownload) {
    return InvalidArgumentError("SMS-PP download: TP-PID must be 7F ((U)SIM data download)");
  }
  if (!sms->user_data_header) return InvalidArgumentError("SMS-PP download: no user data header (TS 31.115)");
  auto added = reassembler_.Add(sms->user_data);
  if (!added.ok()) {
    // A duplicate SMS (the network repeats deliveries) is accepted and ignored.
    if (added.status().code() == StatusCode::kAlreadyExists) return Bytes();
    return added.status().WithContext("SMS-PP download");
  }
  if (!added->has_value()) return Bytes();  // more segments to come
  Bytes packet = std::move(**added);
  auto routing = protocol::PeekRouting(packet);
  if (!routing.ok()) return routing.status().WithContext("SMS-PP download");
  if (routing->tar != protocol::kPersonalizationTar) {
    return InvalidArgumentError("SMS-PP download: TAR " + ToHex(routing->tar) + " is not this applet's");
  }
  SIMKMS_RETURN_IF_ERROR(HandlePacket(chip, packet));
  return Bytes();  // no PoR (docs/protocol.md §2)
}

StatusOr<protocol::DhGroup> ProtocolDhGroup(const DhGroupSpec& spec) {
  if (spec.kind == kms::DhGroupKind::kCustom) return protocol::DhGroup::Custom(spec.p, spec.g);
  return protocol::DhGroup::Named(spec.kind);
}

StatusOr<protocol::ChipProtocolState> PersonalizationApplet::ToProtocol(const ChipState& chip) {
  if (!group_) {
    SIMKMS_ASSIGN_OR_RETURN(group_, ProtocolDhGroup(chip.dh_group));
  }
  protocol::ChipProtocolState s;
  s.imsi = chip.imsi();
  s.ver = chip.ver;
  s.iccid = chip.ef_iccid;  // the protocol carries the ICCID as EF_ICCID's bytes
  s.group = *group_;
  s.base_key = chip.active();
  s.opc = chip.active_opc();
  s.personalized = chip.active_key == ActiveKey::kKi2;
  s.counter_out = chip.ota.out;
  s.counter_in = chip.ota.in;
  if (chip.pending) {
    protocol::PendingKey p;
    p.ki2 = chip.pending->ki2;
    p.k_confirm = chip.pending->k_confirm;
    p.puk.assign(reinterpret_cast<const char*>(chip.pending->puk.reveal().data()), chip.pending->puk.size());
    p.session_id = chip.pending->session_id;
    p.expected_commit_mac = chip.pending->expected_commit_mac;
    s.pending = std::move(p);
  }
  return s;
}

Status PersonalizationApplet::FromProtocol(ChipState& chip, const protocol::ChipProtocolState& s) {
  if (s.counter_out > kOtaCounterMax || s.counter_in > kOtaCounterMax) {
    return InternalError("OTA counter beyond 5 bytes");
  }
  chip.ota.out = s.counter_out;
  chip.ota.in = s.counter_in;
  if (s.pending) {
    PendingKey p;
    p.ki2 = s.pending->ki2;
    p.k_confirm = s.pending->k_confirm;
    p.puk = SecretBytes::Copy(AsBytes(s.pending->puk));
    p.session_id = s.pending->session_id;
    p.expected_commit_mac = s.pending->expected_commit_mac;
    chip.pending = std::move(p);
  } else {
    chip.pending.reset();
  }
  return OkStatus();
}

Status PersonalizationApplet::StartSession(ChipState& chip) {
  ProtocolScratch scratch;
  SIMKMS_ASSIGN_OR_RETURN(scratch.state, ToProtocol(chip));
  SIMKMS_ASSIGN_OR_RETURN(Bytes hello, role_.Start(scratch.state));
  SIMKMS_RETURN_IF_ERROR(FromProtocol(chip, scratch.state));
  held_challenge_.reset();
  typed_code_.reset();
  session_running_ = true;
  rekey_ = chip.active_key == ActiveKey::kKi2;
  return QueuePacket(chip, hello);
}

Status PersonalizationApplet::HandlePacket(ChipState& chip, const Bytes& packet) {
  ProtocolScratch scratch;
  SIMKMS_ASSIGN_OR_RETURN(scratch.state, ToProtocol(chip));
  code_needed_ = false;
  StatusOr<protocol::ChipOutcome> outcome = role_.OnPacket(scratch.state, packet);
  if (!outcome.ok()) {
    if (code_needed_) {
      // CHALLENGE asks for the activation code: nothing has changed yet; ask the
      // customer and run the same packet again with the typed code.
      code_needed_ = false;
      held_challenge_ = packet;
      GetInput input;
      input.prompt = kPromptActivationCode;
      input.min_length = static_cast<uint8_t>(kActivationMinDigits);
      input.max_length = static_cast<uint8_t>(kActivationMaxDigits);
      input.digits_only = true;
      input.hide_input = true;
      return Queue(input);
    }
    // Unauthenticated, replayed, or not expected now: dropped, nothing changed.
    return InvalidArgumentError("packet from the SC refused: " + outcome.status().message());
  }
  typed_code_.reset();
  held_challenge_.reset();
  switch (outcome->kind) {
    case protocol::ChipOutcome::Kind::kSendPacket:
      SIMKMS_RETURN_IF_ERROR(FromProtocol(chip, scratch.state));
      return QueuePacket(chip, outcome->packet);
    case protocol::ChipOutcome::Kind::kCommitted: {
      // All or nothing: the counters, the pending key's removal and the new key together.
      ChipState next = chip;
      SIMKMS_RETURN_IF_ERROR(FromProtocol(next, scratch.state));
      WipeOnExit wipe_puk(outcome->new_puk);
      SIMKMS_RETURN_IF_ERROR(InstallKi2(next, outcome->new_ki2, outcome->new_opc, outcome->new_puk));
      chip = std::move(next);
      session_running_ = false;
      return Queue(DisplayText{rekey_ ? kTextRenewed : kTextActivated});
    }
    case protocol::ChipOutcome::Kind::kRejected:
      SIMKMS_RETURN_IF_ERROR(FromProtocol(chip, scratch.state));
      session_running_ = false;
      return Queue(DisplayText{outcome->error ? ErrorText(*outcome->error) : std::string("Activation failed.")});
  }
  return InternalError("unknown chip outcome");
}

Status PersonalizationApplet::QueuePacket(const ChipState& chip, const Bytes& packet) {
  // The concatenation reference: the packet's own CNTR, so it differs from the
  // previous packets' across power cycles too.
  const auto reference = static_cast<uint8_t>(chip.ota.out & 0xff);
  SIMKMS_ASSIGN_OR_RETURN(std::vector<Bytes> parts, protocol::Split(packet, reference));
  std::vector<Bytes> tpdus;
  for (Bytes& ud : parts) {
    protocol::SmsSubmit submit;
    submit.message_reference = message_reference_++;
    submit.user_data_header = true;
    submit.destination = protocol::SmsAddress{0x91, sc_number_};
    submit.user_data = std::move(ud);
    SIMKMS_ASSIGN_OR_RETURN(Bytes tpdu, protocol::EncodeSmsSubmit(submit));
    tpdus.push_back(std::move(tpdu));
  }
  for (Bytes& tpdu : tpdus) {
    SendShortMessage send;
    send.tpdu = std::move(tpdu);
    SIMKMS_RETURN_IF_ERROR(Queue(std::move(send)));
  }
  return OkStatus();
}

Status PersonalizationApplet::Queue(ProactiveCommand command) {
  Queued q;
  q.number = next_command_number_;
  SIMKMS_ASSIGN_OR_RETURN(q.encoded, EncodeProactiveCommand(q.number, command));
  q.command = std::move(command);
  next_command_number_ = static_cast<uint8_t>(next_command_number_ % 254 + 1);  // 1..254
  queue_.push_back(std::move(q));
  return OkStatus();
}

std::optional<Bytes> PersonalizationApplet::PendingProactiveCommand() const {
  if (queue_.empty() || front_fetched_) return std::nullopt;
  return queue_.front().encoded;
}

void PersonalizationApplet::OnFetched() {
  if (!queue_.empty()) front_fetched_ = true;
}

Status PersonalizationApplet::OnTerminalResponse(ChipState& chip, const TerminalResponse& response) {
  if (queue_.empty() || !front_fetched_) {
    return FailedPreconditionError("TERMINAL RESPONSE: no proactive command is running");
  }
  const Queued& front = queue_.front();
  const auto type = static_cast<uint8_t>(TypeOf(front.command));
  if (response.details.number != front.number || response.details.type != type) {
    return InvalidArgumentError("TERMINAL RESPONSE: command details do not match the running command");
  }
  ProactiveCommand done = std::move(queue_.front().command);
  queue_.pop_front();
  front_fetched_ = false;
  const bool ok = static_cast<uint8_t>(response.result) < kGeneralResultsOkBelow;

  if (std::holds_alternative<SendShortMessage>(done)) {
    if (!ok) {
      // The rest of the packet is useless without this SMS: drop it and say so.
      // The customer's next call retries (docs/protocol.md §6).
      std::erase_if(queue_, [](const Queued& q) { return std::holds_alternative<SendShortMessage>(q.command); });
      session_running_ = false;
      return Queue(DisplayText{kTextNoNetwork});
    }
    return OkStatus();
  }
  if (std::holds_alternative<GetInput>(done)) {
    if (!held_challenge_) return OkStatus();  // the session was replaced meanwhile
    if (!ok || !response.text) {
      held_challenge_.reset();
      session_running_ = false;
      return Queue(DisplayText{kTextCancelled});
    }
    if (!IsActivationCode(response.text->reveal())) {
      SIMKMS_RETURN_IF_ERROR(Queue(DisplayText{kTextBadCode}));
      GetInput again;
      again.prompt = kPromptActivationCode;
      again.min_length = static_cast<uint8_t>(kActivationMinDigits);
      again.max_length = static_cast<uint8_t>(kActivationMaxDigits);
      return Queue(again);
    }
    typed_code_ = *response.text;
    Bytes challenge = std::move(*held_challenge_);
    held_challenge_.reset();
    Status handled = HandlePacket(chip, challenge);
    typed_code_.reset();
    return handled;
  }
  return OkStatus();  // DISPLAY TEXT, SET UP MENU: nothing follows
}

}  // namespace simkms::chip
