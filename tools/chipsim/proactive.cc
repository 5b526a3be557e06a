#include "tools/chipsim/proactive.h"

#include "tools/chipsim/tlv.h"

namespace simkms::chip {
namespace {

constexpr uint8_t kTagProactive = 0xD0;
constexpr uint8_t kTagCommandDetails = 0x81;
constexpr uint8_t kTagDeviceIdentities = 0x82;
constexpr uint8_t kTagResult = 0x83;
constexpr uint8_t kTagAlpha = 0x85;
constexpr uint8_t kTagAddress = 0x86;
constexpr uint8_t kTagSmsTpdu = 0x8B;
constexpr uint8_t kTagTextString = 0x8D;
constexpr uint8_t kTagItem = 0x8F;
constexpr uint8_t kTagResponseLength = 0x91;
constexpr uint8_t kDcs8Bit = 0x04;

Bytes TextValue(std::string_view text) {
  Bytes v{kDcs8Bit};
  v.insert(v.end(), text.begin(), text.end());
  return v;
}

StatusOr<std::string> ParseText(const Tlv* t, const char* what) {
  if (t == nullptr) return InvalidArgumentError(std::string(what) + ": text string missing");
  if (t->value.empty()) return std::string();  // null text string
  if (t->value[0] != kDcs8Bit) return InvalidArgumentError(std::string(what) + ": text string DCS must be 04");
  std::string text(t->value.begin() + 1, t->value.end());
  if (!IsToolkitText(text)) return InvalidArgumentError(std::string(what) + ": text has unsupported characters");
  return text;
}

Status CheckText(std::string_view text, const char* what) {
  if (!IsToolkitText(text)) return InvalidArgumentError(std::string(what) + ": unsupported character in text");
  return OkStatus();
}

}  // namespace

bool IsToolkitText(std::string_view text) {
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    bool ok = (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= 0x20 && u <= 0x3F && u != 0x24) ||
              u == '\n' || u == '\r';
    if (!ok) return false;
  }
  return true;
}

CommandType TypeOf(const ProactiveCommand& command) {
  if (std::holds_alternative<DisplayText>(command)) return CommandType::kDisplayText;
  if (std::holds_alternative<GetInput>(command)) return CommandType::kGetInput;
  if (std::holds_alternative<SetUpMenu>(command)) return CommandType::kSetUpMenu;
  return CommandType::kSendShortMessage;
}

std::string_view CommandTypeName(CommandType type) {
  switch (type) {
    case CommandType::kDisplayText: return "DISPLAY TEXT";
    case CommandType::kGetInput: return "GET INPUT";
    case CommandType::kSendShortMessage: return "SEND SHORT MESSAGE";
    case CommandType::kSetUpMenu: return "SET UP MENU";
  }
  return "?";
}

StatusOr<Bytes> EncodeProactiveCommand(uint8_t number, const ProactiveCommand& command) {
  Bytes body;
  auto details = [&](CommandType type, uint8_t qualifier, uint8_t destination) {
    const uint8_t d[] = {number, static_cast<uint8_t>(type), qualifier};
    AppendTlv(body, kTagCommandDetails, d);
    const uint8_t ids[] = {kDeviceUicc, destination};
    AppendTlv(body, kTagDeviceIdentities, ids);
  };
  if (const auto* c = std::get_if<DisplayText>(&command)) {
    SIMKMS_RETURN_IF_ERROR(CheckText(c->text, "DISPLAY TEXT"));
    if (c->text.empty()) return InvalidArgumentError("DISPLAY TEXT: empty text");
    uint8_t q = static_cast<uint8_t>((c->high_priority ? 0x01 : 0) | (c->wait_for_user ? 0x80 : 0));
    details(CommandType::kDisplayText, q, kDeviceDisplay);
    if (c->text.size() > 200) return InvalidArgumentError("DISPLAY TEXT: text too long");
    AppendTlv(body, kTagTextString, TextValue(c->text));
  } else if (const auto* c = std::get_if<GetInput>(&command)) {
    SIMKMS_RETURN_IF_ERROR(CheckText(c->prompt, "GET INPUT"));
    if (c->max_length == 0 || c->min_length > c->max_length) {
      return InvalidArgumentError("GET INPUT: response length must satisfy 0 <= min <= max, max >= 1");
    }
    if (c->prompt.size() > 200) return InvalidArgumentError("GET INPUT: prompt too long");
    uint8_t q = static_cast<uint8_t>((c->digits_only ? 0 : 0x01) | (c->hide_input ? 0x04 : 0));
    details(CommandType::kGetInput, q, kDeviceTerminal);
    AppendTlv(body, kTagTextString, TextValue(c->prompt));
    const uint8_t lengths[] = {c->min_length, c->max_length};
    AppendTlv(body, kTagResponseLength, lengths);
  } else if (const auto* m = std::get_if<SetUpMenu>(&command)) {
    SIMKMS_RETURN_IF_ERROR(CheckText(m->title, "SET UP MENU"));
    if (m->items.empty()) return InvalidArgumentError("SET UP MENU: no items");
    details(CommandType::kSetUpMenu, 0x00, kDeviceTerminal);
    AppendTlv(body, kTagAlpha, AsBytes(m->title));
    for (const MenuItem& item : m->items) {
      SIMKMS_RETURN_IF_ERROR(CheckText(item.text, "SET UP MENU item"));
      if (item.id == 0) return InvalidArgumentError("SET UP MENU: item identifier 00 is not allowed");
      if (item.text.size() > 64) return InvalidArgumentError("SET UP MENU: item text too long");
      Bytes value{item.id};
      value.insert(value.end(), item.text.begin(), item.text.end());
      AppendTlv(body, kTagItem, value);
    }
  } else {
    const auto& s = std::get<SendShortMessage>(command);
    SIMKMS_RETURN_IF_ERROR(CheckText(s.alpha_identifier, "SEND SHORT MESSAGE"));
    if (s.tpdu.empty() || s.tpdu.size() > 175) return InvalidArgumentError("SEND SHORT MESSAGE: TPDU must be 1..175 bytes");
    if (s.alpha_identifier.size() > 64) return InvalidArgumentError("SEND SHORT MESSAGE: alpha identifier too long");
    details(CommandType::kSendShortMessage, 0x00, kDeviceNetwork);
    if (!s.alpha_identifier.empty()) {
      AppendTlv(body, kTagAlpha, AsBytes(s.alpha_identifier));
    }
    if (s.service_centre) {
      SIMKMS_ASSIGN_OR_RETURN(Bytes addr, EncodeAddressValue(*s.service_centre));
      AppendTlv(body, kTagAddress, addr);
    }
    AppendTlv(body, kTagSmsTpdu, s.tpdu);
  }
  // D0 81 LL | body: at most 255 bytes in all, what one 91 XX can announce.
  if (body.size() > 252) return InvalidArgumentError("proactive command exceeds 255 bytes");
  return MakeTlv(kTagProactive, body);
}

StatusOr<FetchedCommand> DecodeProactiveCommand(ByteView data) {
  auto body = UnwrapTlv(data, kTagProactive);
  if (!body.ok()) return body.status().WithContext("proactive command");
  auto tlvs = ParseTlvs(*body);
  if (!tlvs.ok()) return tlvs.status().WithContext("proactive command");
  const Tlv* details = FindComprehension(*tlvs, kTagCommandDetails);
  const Tlv* ids = FindComprehension(*tlvs, kTagDeviceIdentities);
  if (details == nullptr || details->value.size() != 3) {
    return InvalidArgumentError("proactive command: command details missing or not 3 bytes");
  }
  if (ids == nullptr || ids->value.size() != 2 || ids->value[0] != kDeviceUicc) {
    return InvalidArgumentError("proactive command: device identities missing or not from the UICC");
  }
  FetchedCommand f;
  f.details = CommandDetails{details->value[0], details->value[1], details->value[2]};
  const uint8_t q = f.details.qualifier;
  switch (static_cast<CommandType>(f.details.type)) {
    case CommandType::kDisplayText: {
      DisplayText c;
      SIMKMS_ASSIGN_OR_RETURN(c.text, ParseText(FindComprehension(*tlvs, kTagTextString), "DISPLAY TEXT"));
      c.high_priority = q & 0x01;
      c.wait_for_user = q & 0x80;
      f.command = c;
      break;
    }
    case CommandType::kGetInput: {
      GetInput c;
      SIMKMS_ASSIGN_OR_RETURN(c.prompt, ParseText(FindComprehension(*tlvs, kTagTextString), "GET INPUT"));
      const Tlv* len = FindComprehension(*tlvs, kTagResponseLength);
      if (len == nullptr || len->value.size() != 2) return InvalidArgumentError("GET INPUT: response length missing");
      c.min_length = len->value[0];
      c.max_length = len->value[1];
      c.digits_only = (q & 0x01) == 0;
      c.hide_input = q & 0x04;
      f.command = c;
      break;
    }
    case CommandType::kSendShortMessage: {
      SendShortMessage c;
      if (const Tlv* alpha = FindComprehension(*tlvs, kTagAlpha)) {
        c.alpha_identifier.assign(alpha->value.begin(), alpha->value.end());
      }
      if (const Tlv* addr = FindComprehension(*tlvs, kTagAddress)) {
        auto a = DecodeAddressValue(addr->value);
        if (!a.ok()) return a.status().WithContext("SEND SHORT MESSAGE");
        c.service_centre = std::move(*a);
      }
      const Tlv* tpdu = FindComprehension(*tlvs, kTagSmsTpdu);
      if (tpdu == nullptr || tpdu->value.empty()) return InvalidArgumentError("SEND SHORT MESSAGE: SMS TPDU missing");
      c.tpdu = tpdu->value;
      f.command = c;
      break;
    }
    case CommandType::kSetUpMenu: {
      SetUpMenu c;
      if (const Tlv* alpha = FindComprehension(*tlvs, kTagAlpha)) c.title.assign(alpha->value.begin(), alpha->value.end());
      for (const Tlv& t : *tlvs) {
        if ((t.tag | 0x80) != kTagItem) continue;  // with or without the CR flag
        if (t.value.empty()) return InvalidArgumentError("SET UP MENU: empty item");
        MenuItem item{t.value[0], std::string(t.value.begin() + 1, t.value.end())};
        if (!IsToolkitText(item.text)) return InvalidArgumentError("SET UP MENU: item text has unsupported characters");
        c.items.push_back(std::move(item));
      }
      if (c.items.empty()) return InvalidArgumentError("SET UP MENU: no items");
      f.command = c;
      break;
    }
    default:
      break;  // unknown type: command stays nullopt
  }
  return f;
}

StatusOr<Bytes> EncodeTerminalResponse(const TerminalResponse& r) {
  Bytes out;
  const uint8_t d[] = {r.details.number, r.details.type, r.details.qualifier};
  AppendTlv(out, kTagCommandDetails, d);
  const uint8_t ids[] = {kDeviceTerminal, kDeviceUicc};
  AppendTlv(out, kTagDeviceIdentities, ids);
  if (r.additional_info.size() > 32) return InvalidArgumentError("terminal response: additional info too long");
  Bytes result{static_cast<uint8_t>(r.result)};
  result.insert(result.end(), r.additional_info.begin(), r.additional_info.end());
  AppendTlv(out, kTagResult, result);
  if (r.text) {
    if (r.text->size() > 200) return InvalidArgumentError("terminal response: text too long");
    SecretBytes value(r.text->size() + 1);
    value.mutable_data()[0] = kDcs8Bit;
    std::copy(r.text->reveal().begin(), r.text->reveal().end(), value.mutable_data() + 1);
    AppendTlv(out, kTagTextString, value.reveal());
  }
  return out;
}

StatusOr<TerminalResponse> DecodeTerminalResponse(ByteView data) {
  auto tlvs = ParseTlvs(data);
  if (!tlvs.ok()) return tlvs.status().WithContext("terminal response");
  const Tlv* details = FindComprehension(*tlvs, kTagCommandDetails);
  const Tlv* ids = FindComprehension(*tlvs, kTagDeviceIdentities);
  const Tlv* result = FindComprehension(*tlvs, kTagResult);
  if (details == nullptr || details->value.size() != 3) {
    return InvalidArgumentError("terminal response: command details missing or not 3 bytes");
  }
  if (ids == nullptr || ids->value.size() != 2 || ids->value[0] != kDeviceTerminal || ids->value[1] != kDeviceUicc) {
    return InvalidArgumentError("terminal response: device identities must be terminal -> UICC (82 81)");
  }
  if (result == nullptr || result->value.empty()) return InvalidArgumentError("terminal response: result missing");
  TerminalResponse r;
  r.details = CommandDetails{details->value[0], details->value[1], details->value[2]};
  r.result = static_cast<GeneralResult>(result->value[0]);
  r.additional_info.assign(result->value.begin() + 1, result->value.end());
  if (const Tlv* text = FindComprehension(*tlvs, kTagTextString)) {
    if (!text->value.empty() && text->value[0] != kDcs8Bit) {
      return InvalidArgumentError("terminal response: text string DCS must be 04 (8-bit default alphabet)");
    }
    r.text = text->value.empty() ? SecretBytes() : SecretBytes::Copy(ByteView(text->value).subspan(1));
  }
  return r;
}

}  // namespace simkms::chip
