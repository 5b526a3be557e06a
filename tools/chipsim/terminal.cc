#include "tools/chipsim/terminal.h"

#include <algorithm>

#include "tools/chipsim/ef_codec.h"
#include "tools/chipsim/sms.h"
#include "tools/chipsim/tlv.h"

namespace simkms::chip {
namespace {

constexpr uint8_t kTagMenuSelection = 0xD3;
constexpr uint8_t kTagCallControl = 0xD4;
constexpr uint8_t kTagDeviceIdentities = 0x82;
constexpr uint8_t kTagAddress = 0x86;
constexpr uint8_t kTagItemIdentifier = 0x90;
// Bounds on one toolkit run, so that a card that never stops asking cannot
// hang the handset: far above the 8 commands + 7 SMS a first call needs.
constexpr int kMaxRoundsPerRun = 256;

constexpr uint16_t kFidMf = 0x3F00;
constexpr uint16_t kFidIccid = 0x2FE2;
constexpr uint16_t kFidDir = 0x2F00;
constexpr uint16_t kFidImsi = 0x6F07;
// The USIM's application code in an AID, after the 3GPP RID (TS 101 220 Annex E).
constexpr uint8_t kUsimAidPrefix[] = {0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02};

Bytes FidBytes(uint16_t fid) { return {static_cast<uint8_t>(fid >> 8), static_cast<uint8_t>(fid)}; }

uint8_t Sw1(Sw sw) { return static_cast<uint8_t>(sw >> 8); }
uint8_t Sw2(Sw sw) { return static_cast<uint8_t>(sw & 0xff); }

CommandApdu Apdu(uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2, Bytes data, uint8_t le = 0) {
  CommandApdu a;
  a.cla = cla;
  a.ins = ins;
  a.p1 = p1;
  a.p2 = p2;
  a.p3 = data.empty() ? le : static_cast<uint8_t>(data.size());
  a.data = std::move(data);
  return a;
}

Status SwError(const char* what, Sw sw) {
  return FailedPreconditionError(std::string(what) + ": the card answered " + SwToString(sw) + " (" +
                                 DescribeSw(sw) + ")");
}

}  // namespace

Terminal::Terminal(CardChannel card, SmsNetwork* network, Keypad keypad, Display display)
    : card_(std::move(card)), network_(network), keypad_(std::move(keypad)), display_(std::move(display)) {}

StatusOr<ApduResponse> Terminal::Send(const CommandApdu& command) {
  SIMKMS_ASSIGN_OR_RETURN(Bytes raw, card_(EncodeCommandApdu(command)));
  if (raw.size() < 2) return InternalError("the card answered fewer than 2 bytes");
  ApduResponse r;
  r.sw = static_cast<Sw>((raw[raw.size() - 2] << 8) | raw[raw.size() - 1]);
  r.data.assign(raw.begin(), raw.end() - 2);
  // T=0: response data waits for GET RESPONSE (61 XX UICC, 9F XX GSM).
  if (Sw1(r.sw) == 0x61 || Sw1(r.sw) == 0x9F) {
    const uint8_t cla = Sw1(r.sw) == 0x9F ? kClaGsm : kClaIso;
    SIMKMS_ASSIGN_OR_RETURN(raw, card_(EncodeCommandApdu(Apdu(cla, kInsGetResponse, 0, 0, {}, Sw2(r.sw)))));
    if (raw.size() < 2) return InternalError("the card answered fewer than 2 bytes");
    r.sw = static_cast<Sw>((raw[raw.size() - 2] << 8) | raw[raw.size() - 1]);
    r.data.assign(raw.begin(), raw.end() - 2);
  }
  return r;
}

StatusOr<Bytes> Terminal::ReadTransparent(uint16_t fid, uint8_t size) {
  const Bytes id = FidBytes(fid);
  // SELECT by file identifier, no response data (P2 0C).
  SIMKMS_ASSIGN_OR_RETURN(ApduResponse sel, Send(Apdu(kClaIso, kInsSelect, 0x00, 0x0C, id)));
  if (sel.sw != kSwOk) return SwError(("SELECT " + ToHex(id)).c_str(), sel.sw);
  SIMKMS_ASSIGN_OR_RETURN(ApduResponse read, Send(Apdu(kClaIso, kInsReadBinary, 0, 0, {}, size)));
  pin_needed_ = read.sw == SwFor(Dialect::kUicc, Condition::kSecurityNotSatisfied);
  if (read.sw != kSwOk) return SwError(("READ BINARY " + ToHex(id)).c_str(), read.sw);
  if (read.data.size() != size) return InvalidArgumentError("READ BINARY " + ToHex(id) + ": wrong length");
  return read.data;
}

// EF_DIR's records are application templates (61) with the AID (4F); the first
// whose AID is a USIM's is the one a handset selects.
StatusOr<Bytes> Terminal::FindUsimAid() {
  // SELECT with the FCP: the record length is in the file descriptor (82).
  SIMKMS_ASSIGN_OR_RETURN(ApduResponse sel, Send(Apdu(kClaIso, kInsSelect, 0x00, 0x04, FidBytes(kFidDir))));
  if (sel.sw != kSwOk) return SwError("SELECT EF_DIR", sel.sw);
  auto fcp = UnwrapTlv(sel.data, 0x62);
  if (!fcp.ok()) return fcp.status().WithContext("EF_DIR's FCP");
  auto fcp_tlvs = ParseTlvs(*fcp);
  if (!fcp_tlvs.ok()) return fcp_tlvs.status().WithContext("EF_DIR's FCP");
  const Tlv* descriptor = FindComprehension(*fcp_tlvs, 0x82);
  if (descriptor == nullptr || descriptor->value.size() != 5) {
    return InvalidArgumentError("EF_DIR's FCP: no linear fixed file descriptor");
  }
  const uint8_t record_length = descriptor->value[3];
  const uint8_t records = descriptor->value[4];
  for (uint8_t n = 1; n <= records; ++n) {
    SIMKMS_ASSIGN_OR_RETURN(ApduResponse rec, Send(Apdu(kClaIso, kInsReadRecord, n, 0x04, {}, record_length)));
    if (rec.sw != kSwOk) return SwError("READ RECORD EF_DIR", rec.sw);
    // The template, then FF padding.
    if (rec.data.size() < 2 || rec.data[0] != 0x61 || std::size_t{rec.data[1]} + 2 > rec.data.size()) continue;
    auto tlvs = ParseTlvs(ByteView(rec.data).subspan(2, rec.data[1]));
    if (!tlvs.ok()) continue;
    const Tlv* aid = FindComprehension(*tlvs, 0x4F);
    if (aid != nullptr && aid->value.size() >= sizeof(kUsimAidPrefix) &&
        std::equal(std::begin(kUsimAidPrefix), std::end(kUsimAidPrefix), aid->value.begin())) {
      return aid->value;
    }
  }
  return NotFoundError("EF_DIR names no USIM application");
}

Status Terminal::Start(const std::optional<SecretBytes>& pin) {
  iccid_.clear();
  imsi_.clear();
  menu_.reset();
  SIMKMS_ASSIGN_OR_RETURN(ApduResponse mf, Send(Apdu(kClaIso, kInsSelect, 0x00, 0x0C, FidBytes(kFidMf))));
  if (mf.sw != kSwOk) return SwError("SELECT MF", mf.sw);
  SIMKMS_ASSIGN_OR_RETURN(Bytes ef_iccid, ReadTransparent(kFidIccid, 10));
  SIMKMS_ASSIGN_OR_RETURN(iccid_, DecodeEfIccid(ef_iccid));
  SIMKMS_ASSIGN_OR_RETURN(Bytes aid, FindUsimAid());
  SIMKMS_ASSIGN_OR_RETURN(ApduResponse adf, Send(Apdu(kClaIso, kInsSelect, 0x04, 0x0C, aid)));
  if (adf.sw != kSwOk) return SwError("SELECT ADF.USIM", adf.sw);
  StatusOr<Bytes> ef_imsi = ReadTransparent(kFidImsi, 9);
  if (!ef_imsi.ok() && pin_needed_) {
    // EF_IMSI is PIN-protected while the PIN is enabled: the handset asks for it.
    if (!pin) return FailedPreconditionError("the card asks for its PIN (CHV1) before EF_IMSI can be read");
    SIMKMS_ASSIGN_OR_RETURN(ApduResponse v, Send(Apdu(kClaIso, kInsVerify, 0x00, 0x01,
                                                      Bytes(pin->reveal().begin(), pin->reveal().end()))));
    if (v.sw != kSwOk) return SwError("VERIFY PIN", v.sw);
    ef_imsi = ReadTransparent(kFidImsi, 9);
  }
  if (!ef_imsi.ok()) return ef_imsi.status();
  SIMKMS_ASSIGN_OR_RETURN(imsi_, DecodeEfImsi(*ef_imsi));
  SIMKMS_ASSIGN_OR_RETURN(ApduResponse tp, Send(Apdu(kClaProprietary, kInsTerminalProfile, 0, 0,
                                                     Bytes(std::begin(kProfile), std::end(kProfile)))));
  if (tp.sw != kSwOk && Sw1(tp.sw) != 0x91) return SwError("TERMINAL PROFILE", tp.sw);
  return ProactiveLoop(tp.sw);
}

Status Terminal::Envelope(const Bytes& data) {
  SIMKMS_ASSIGN_OR_RETURN(ApduResponse r, Send(Apdu(kClaProprietary, kInsEnvelope, 0, 0, data)));
  if (r.sw == kSwOk || Sw1(r.sw) == 0x91) return ProactiveLoop(r.sw);
  return SwError("ENVELOPE", r.sw);
}

Status Terminal::Dial(std::string_view number) {
  Bytes body;
  const uint8_t ids[] = {kDeviceTerminal, kDeviceUicc};
  AppendTlv(body, kTagDeviceIdentities, ids);
  SIMKMS_ASSIGN_OR_RETURN(Bytes address, EncodeAddressValue({0x81, std::string(number)}));
  AppendTlv(body, kTagAddress, address);
  SIMKMS_RETURN_IF_ERROR(Envelope(MakeTlv(kTagCallControl, body)));
  return RunToolkit();
}

Status Terminal::SelectMenuItem(uint8_t item) {
  // A handset offers only the items the card's SET UP MENU listed.
  const bool offered = menu_ && std::any_of(menu_->items.begin(), menu_->items.end(),
                                            [item](const MenuItem& m) { return m.id == item; });
  if (!offered) {
    return FailedPreconditionError("the card's SIM menu has no item " + std::to_string(item) +
                                   (menu_ ? "" : " (the card set up no menu)"));
  }
  Bytes body;
  const uint8_t ids[] = {kDeviceKeypad, kDeviceUicc};
  AppendTlv(body, kTagDeviceIdentities, ids);
  const uint8_t id[] = {item};
  AppendTlv(body, kTagItemIdentifier, id);
  SIMKMS_RETURN_IF_ERROR(Envelope(MakeTlv(kTagMenuSelection, body)));
  return RunToolkit();
}

Status Terminal::RunToolkit() {
  if (network_ == nullptr) return OkStatus();
  for (int round = 0; round < kMaxRoundsPerRun; ++round) {
    std::optional<Bytes> tpdu = network_->Receive(imsi_);
    if (!tpdu) return OkStatus();
    SIMKMS_ASSIGN_OR_RETURN(Bytes envelope, EncodeSmsPpEnvelope({std::nullopt, *tpdu}));
    SIMKMS_ASSIGN_OR_RETURN(ApduResponse r, Send(Apdu(kClaProprietary, kInsEnvelope, 0, 0, envelope)));
    if (r.sw == kSwOk || Sw1(r.sw) == 0x91) {
      SIMKMS_RETURN_IF_ERROR(ProactiveLoop(r.sw));
    } else if (Sw1(r.sw) != 0x9E && Sw1(r.sw) != 0x62 && Sw1(r.sw) != 0x63) {
      // The network would answer RP-ERROR; the handset carries on.
      refused_downloads_.push_back(r.sw);
    }
  }
  return ResourceExhaustedError("the network keeps delivering SMS: stopped after " + std::to_string(kMaxRoundsPerRun));
}

Status Terminal::ProactiveLoop(Sw sw) {
  for (int round = 0; round < kMaxRoundsPerRun; ++round) {
    if (Sw1(sw) != 0x91) return OkStatus();
    SIMKMS_ASSIGN_OR_RETURN(ApduResponse fetched, Send(Apdu(kClaProprietary, kInsFetch, 0, 0, {}, Sw2(sw))));
    if (fetched.sw != kSwOk) return SwError("FETCH", fetched.sw);
    ++proactive_commands_;
    TerminalResponse response;
    StatusOr<FetchedCommand> command = DecodeProactiveCommand(fetched.data);
    if (!command.ok()) {
      // Without readable command details there is nothing to answer.
      return command.status().WithContext("FETCH");
    }
    SIMKMS_ASSIGN_OR_RETURN(response, Perform(*command));
    SIMKMS_ASSIGN_OR_RETURN(Bytes data, EncodeTerminalResponse(response));
    SIMKMS_ASSIGN_OR_RETURN(ApduResponse answered, Send(Apdu(kClaProprietary, kInsTerminalResponse, 0, 0, data)));
    if (answered.sw != kSwOk && Sw1(answered.sw) != 0x91) return SwError("TERMINAL RESPONSE", answered.sw);
    sw = answered.sw;
  }
  return ResourceExhaustedError("the card keeps issuing proactive commands: stopped after " +
                                std::to_string(kMaxRoundsPerRun));
}

StatusOr<TerminalResponse> Terminal::Perform(const FetchedCommand& fetched) {
  TerminalResponse r;
  r.details = fetched.details;
  if (!fetched.command) {
    r.result = GeneralResult::kBeyondTerminalCapabilities;
    return r;
  }
  if (const auto* sms = std::get_if<SendShortMessage>(&*fetched.command)) {
    if (network_ == nullptr) {
      r.result = GeneralResult::kNetworkUnableNow;
      return r;
    }
    Status sent = network_->Submit(imsi_, sms->tpdu);
    if (!sent.ok()) {
      r.result = sent.code() == StatusCode::kInvalidArgument ? GeneralResult::kCommandDataNotUnderstood
                                                             : GeneralResult::kNetworkUnableNow;
    }
    return r;
  }
  if (const auto* text = std::get_if<DisplayText>(&*fetched.command)) {
    if (display_) display_(text->text);
    return r;
  }
  if (const auto* menu = std::get_if<SetUpMenu>(&*fetched.command)) {
    menu_ = *menu;
    return r;
  }
  const auto& input = std::get<GetInput>(*fetched.command);
  std::optional<SecretBytes> typed = keypad_ ? keypad_(input) : std::nullopt;
  if (!typed) {
    r.result = GeneralResult::kTerminatedByUser;
    return r;
  }
  r.text = std::move(*typed);
  return r;
}

}  // namespace simkms::chip
