#include "tools/chipsim/sms.h"

#include "tools/chipsim/tlv.h"

namespace simkms::chip {
namespace {

constexpr uint8_t kTagSmsPpDownload = 0xD1;
constexpr uint8_t kTagDeviceIdentities = 0x82;
constexpr uint8_t kTagAddress = 0x06;
constexpr uint8_t kTagSmsTpdu = 0x8B;
constexpr uint8_t kDeviceNetwork = 0x83;
constexpr uint8_t kDeviceUicc = 0x81;

// Whether TP-UDL counts septets (GSM 7-bit default alphabet), TS 23.038 §4.
bool CountsSeptets(uint8_t dcs) {
  uint8_t group = dcs >> 4;
  if (group <= 0x7) {            // general data coding (00xx, 01xx)
    if (dcs & 0x20) return false;  // compressed: octets
    return ((dcs >> 2) & 0x03) == 0x00;
  }
  if (group == 0xF) return (dcs & 0x04) == 0;
  if (group == 0xC || group == 0xD) return true;  // message waiting, GSM 7-bit
  return false;                                   // UCS2 and reserved: octets
}

}  // namespace

StatusOr<Bytes> EncodeAddressValue(const SmsAddress& a) {
  if (a.digits.size() > 20) return InvalidArgumentError("address longer than 20 digits");
  Bytes out{a.ton_npi};
  for (std::size_t i = 0; i < a.digits.size(); ++i) {
    char c = a.digits[i];
    if (c < '0' || c > '9') return InvalidArgumentError("address digits must be 0-9");
    uint8_t d = static_cast<uint8_t>(c - '0');
    if (i % 2 == 0) out.push_back(static_cast<uint8_t>(0xf0 | d));
    else out.back() = static_cast<uint8_t>((out.back() & 0x0f) | (d << 4));
  }
  return out;
}

StatusOr<SmsAddress> DecodeAddressValue(ByteView v) {
  if (v.empty()) return InvalidArgumentError("address: empty");
  SmsAddress a;
  a.ton_npi = v[0];
  bool filler = false;
  for (std::size_t i = 1; i < v.size(); ++i) {
    for (uint8_t n : {static_cast<uint8_t>(v[i] & 0x0f), static_cast<uint8_t>(v[i] >> 4)}) {
      if (n == 0x0f) {
        filler = true;
      } else if (n > 9 || filler) {
        return InvalidArgumentError("address: not BCD digits with trailing F filler");
      } else {
        a.digits.push_back(static_cast<char>('0' + n));
      }
    }
  }
  return a;
}

StatusOr<Bytes> EncodeSmsPpEnvelope(const SmsPpEnvelope& e) {
  if (e.tpdu.empty() || e.tpdu.size() > 175) return InvalidArgumentError("SMS TPDU must be 1..175 bytes");
  Bytes body;
  const uint8_t ids[] = {kDeviceNetwork, kDeviceUicc};
  AppendTlv(body, kTagDeviceIdentities, ids);
  if (e.service_centre) {
    SIMKMS_ASSIGN_OR_RETURN(Bytes addr, EncodeAddressValue(*e.service_centre));
    AppendTlv(body, kTagAddress | 0x80, addr);
  }
  AppendTlv(body, kTagSmsTpdu, e.tpdu);
  if (body.size() > 255) return InvalidArgumentError("SMS-PP envelope exceeds 255 bytes");
  return MakeTlv(kTagSmsPpDownload, body);
}

StatusOr<SmsPpEnvelope> DecodeSmsPpEnvelope(ByteView data) {
  auto body = UnwrapTlv(data, kTagSmsPpDownload);
  if (!body.ok()) return body.status().WithContext("SMS-PP download");
  auto tlvs = ParseTlvs(*body);
  if (!tlvs.ok()) return tlvs.status().WithContext("SMS-PP download");
  SmsPpEnvelope e;
  bool have_ids = false;
  bool have_tpdu = false;
  for (const Tlv& t : *tlvs) {
    switch (t.tag & 0x7f) {
      case kTagDeviceIdentities & 0x7f:
        if (t.value.size() != 2 || t.value[0] != kDeviceNetwork || t.value[1] != kDeviceUicc) {
          return InvalidArgumentError("SMS-PP download: device identities must be network -> UICC (83 81)");
        }
        have_ids = true;
        break;
      case kTagAddress: {
        auto a = DecodeAddressValue(t.value);
        if (!a.ok()) return a.status().WithContext("SMS-PP download");
        e.service_centre = std::move(*a);
        break;
      }
      case kTagSmsTpdu & 0x7f:
        e.tpdu = t.value;
        have_tpdu = true;
        break;
      default:
        if (t.tag & 0x80) return InvalidArgumentError("SMS-PP download: unknown object with comprehension required");
        break;
    }
  }
  if (!have_ids) return InvalidArgumentError("SMS-PP download: no device identities");
  if (!have_tpdu || e.tpdu.empty()) return InvalidArgumentError("SMS-PP download: no SMS TPDU");
  return e;
}

StatusOr<SmsDeliverInfo> ParseSmsDeliver(ByteView t) {
  std::size_t i = 0;
  auto need = [&](std::size_t n, const char* field) -> Status {
    if (t.size() - i < n) return InvalidArgumentError(std::string("SMS-DELIVER: truncated at ") + field);
    return OkStatus();
  };
  SIMKMS_RETURN_IF_ERROR(need(1, "first octet"));
  uint8_t first = t[i++];
  if ((first & 0x03) != 0x00) return InvalidArgumentError("TPDU is not an SMS-DELIVER (TP-MTI)");
  SmsDeliverInfo info;
  info.user_data_header = (first & 0x40) != 0;
  SIMKMS_RETURN_IF_ERROR(need(2, "TP-OA"));
  std::size_t semi_octets = t[i];
  uint8_t ton_npi = t[i + 1];
  std::size_t oa_bytes = (semi_octets + 1) / 2;
  if (semi_octets > 20) return InvalidArgumentError("SMS-DELIVER: TP-OA longer than 20 digits");
  SIMKMS_RETURN_IF_ERROR(need(2 + oa_bytes, "TP-OA"));
  info.originator.ton_npi = ton_npi;
  if ((ton_npi & 0x70) != 0x50) {  // not alphanumeric
    Bytes value{ton_npi};
    value.insert(value.end(), t.begin() + i + 2, t.begin() + i + 2 + oa_bytes);
    auto a = DecodeAddressValue(value);
    if (!a.ok()) return a.status().WithContext("SMS-DELIVER TP-OA");
    info.originator = std::move(*a);
  }
  i += 2 + oa_bytes;
  SIMKMS_RETURN_IF_ERROR(need(1 + 1 + 7 + 1, "TP-PID/DCS/SCTS/UDL"));
  info.pid = t[i++];
  info.dcs = t[i++];
  std::copy(t.begin() + i, t.begin() + i + 7, info.scts.begin());
  i += 7;
  std::size_t udl = t[i++];
  std::size_t octets = CountsSeptets(info.dcs) ? (udl * 7 + 7) / 8 : udl;
  if (t.size() - i != octets) {
    return InvalidArgumentError("SMS-DELIVER: TP-UDL " + std::to_string(udl) + " does not match the " +
                                std::to_string(t.size() - i) + " bytes of user data");
  }
  info.user_data.assign(t.begin() + i, t.end());
  return info;
}

}  // namespace simkms::chip
