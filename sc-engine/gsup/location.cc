#include "sc-engine/gsup/location.h"

#include "sc-engine/gsup/error_text_internal.h"
#include "sc-engine/gsup/tbcd_internal.h"

namespace simkms::gsup {

using internal::Num;

StatusOr<Bytes> EncodeMsisdnIe(std::string_view msisdn) {
  if (msisdn.size() > kMaxMsisdnDigits) {
    return InvalidArgumentError("MSISDN has " + Num(msisdn.size()) + " digits, at most " + Num(kMaxMsisdnDigits));
  }
  SIMKMS_ASSIGN_OR_RETURN(Bytes digits, internal::PackTbcd(msisdn, "MSISDN"));
  Bytes out{static_cast<uint8_t>(digits.size())};  // the length octet, then the digits
  out.insert(out.end(), digits.begin(), digits.end());
  return out;
}

Bytes WildcardApn() { return Bytes{0x01, '*'}; }

bool IsPacketSwitched(const Message& request) { return request.cn_domain != kCnDomainCs; }

StatusOr<Message> MakeInsertDataRequest(const Message& update_location, std::string_view msisdn) {
  if (update_location.type != MessageType::kUpdateLocationRequest) {
    return InvalidArgumentError("INSERT_DATA_REQUEST answers an UPDATE_LOCATION_REQUEST, not " +
                                MessageTypeName(update_location.type));
  }
  SIMKMS_ASSIGN_OR_RETURN(Bytes msisdn_ie, EncodeMsisdnIe(msisdn));
  SIMKMS_ASSIGN_OR_RETURN(Message m, MakeResponse(update_location, MessageType::kInsertDataRequest, false));
  m.msisdn = std::move(msisdn_ie);
  const bool ps = IsPacketSwitched(update_location);
  // osmo-hlr 1.5 has no per-subscriber APNs: one context, id 1, any APN.
  if (ps) m.pdp_infos.push_back(PdpInfo{1, WildcardApn()});
  m.cn_domain = ps ? kCnDomainPs : kCnDomainCs;
  return m;
}

}  // namespace simkms::gsup
