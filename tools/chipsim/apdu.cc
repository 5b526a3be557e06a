#include "tools/chipsim/apdu.h"

#include <cstdio>

namespace simkms::chip {

StatusOr<CommandApdu> ParseCommandApdu(ByteView raw) {
  if (raw.size() < 4) return InvalidArgumentError("an APDU has at least 4 bytes, got " + std::to_string(raw.size()));
  CommandApdu a;
  a.cla = raw[0];
  a.ins = raw[1];
  a.p1 = raw[2];
  a.p2 = raw[3];
  if (raw.size() >= 5) {
    a.p3 = raw[4];
    a.data.assign(raw.begin() + 5, raw.end());
  }
  return a;
}

Bytes EncodeCommandApdu(const CommandApdu& a) {
  Bytes out{a.cla, a.ins, a.p1, a.p2, a.p3};
  out.insert(out.end(), a.data.begin(), a.data.end());
  return out;
}

Sw SwFor(Dialect d, Condition c, uint8_t xx) {
  const bool gsm = d == Dialect::kGsm;
  switch (c) {
    case Condition::kOk: return 0x9000;
    case Condition::kResponseData: return static_cast<Sw>((gsm ? 0x9F00 : 0x6100) | xx);
    case Condition::kProactivePending: return static_cast<Sw>(0x9100 | xx);
    case Condition::kWrongLength: return 0x6700;
    case Condition::kWrongLe: return static_cast<Sw>((gsm ? 0x6700 : 0x6C00) | xx);
    case Condition::kWrongP1P2: return 0x6B00;
    case Condition::kWrongP1P2Combination: return gsm ? 0x6B00 : 0x6A86;
    case Condition::kWrongIns: return 0x6D00;
    case Condition::kWrongCla: return 0x6E00;
    case Condition::kLogicalChannelUnsupported: return gsm ? 0x6E00 : 0x6881;
    case Condition::kFileNotFound: return gsm ? 0x9404 : 0x6A82;
    case Condition::kNoEfSelected: return gsm ? 0x9400 : 0x6986;
    case Condition::kOutOfRange: return gsm ? 0x9402 : 0x6B00;
    // TS 102 221 §10.2.1 (checking errors) 6A 83; TS 51.011 §9.4.3 (referencing) 94 02, out of range.
    case Condition::kRecordNotFound: return gsm ? 0x9402 : 0x6A83;
    // TS 102 221 §10.2.1 (checking errors) 69 81; TS 51.011 §9.4.3 94 08, inconsistent with the command.
    case Condition::kIncompatibleFileStructure: return gsm ? 0x9408 : 0x6981;
    case Condition::kSecurityNotSatisfied: return gsm ? 0x9804 : 0x6982;
    case Condition::kWrongChv:
      if (gsm) return xx == 0 ? 0x9840 : 0x9804;
      return static_cast<Sw>(0x63C0 | (xx & 0x0f));
    case Condition::kChvBlocked: return gsm ? 0x9840 : 0x6983;
    case Condition::kChvStatusContradiction: return gsm ? 0x9808 : 0x6985;
    case Condition::kChvInvalidated: return gsm ? 0x9808 : 0x6984;
    case Condition::kReferencedDataNotFound: return gsm ? 0x6B00 : 0x6A88;
    case Condition::kIncorrectData: return gsm ? 0x6F00 : 0x6A80;
    case Condition::kConditionsNotSatisfied: return gsm ? 0x6F00 : 0x6985;
    case Condition::kFunctionNotSupported: return gsm ? 0x6F00 : 0x6A81;
    case Condition::kMacFailure: return 0x9862;
    case Condition::kToolkitBusy: return 0x9300;
    case Condition::kTechnicalProblem: return 0x6F00;
  }
  return 0x6F00;
}

std::string SwToString(Sw sw) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%02X %02X", sw >> 8, sw & 0xff);
  return buf;
}

std::string DescribeSw(Sw sw) {
  const uint8_t sw1 = static_cast<uint8_t>(sw >> 8);
  const uint8_t sw2 = static_cast<uint8_t>(sw);
  switch (sw1) {
    case 0x90: return "normal ending";
    case 0x91: return "proactive command pending (" + std::to_string(sw2) + " bytes)";
    case 0x9F:
    case 0x61: return std::to_string(sw2) + " bytes of response data available";
    case 0x63:
      if ((sw2 & 0xf0) == 0xc0) return "verification failed, " + std::to_string(sw2 & 0x0f) + " tries left";
      break;
    case 0x67: return "wrong length";
    case 0x6C: return "wrong Le, " + std::to_string(sw2) + " bytes available";
    default: break;
  }
  switch (sw) {
    case 0x6B00: return "wrong parameters P1-P2";
    case 0x6A86: return "incorrect parameters P1-P2";
    case 0x6D00: return "instruction not supported";
    case 0x6E00: return "class not supported";
    case 0x6881: return "logical channel not supported";
    case 0x9404:
    case 0x6A82: return "file not found";
    case 0x9400:
    case 0x6986: return "no EF selected";
    case 0x9402: return "out of range";
    case 0x6A83: return "record not found";
    case 0x6981: return "command incompatible with file structure";
    case 0x9408: return "file inconsistent with the command";
    case 0x9804: return "access condition not fulfilled / wrong CHV";
    case 0x6982: return "security status not satisfied";
    case 0x9840:
    case 0x6983: return "blocked";
    case 0x9808: return "in contradiction with CHV status";
    case 0x6985: return "conditions of use not satisfied";
    case 0x6984: return "referenced data invalidated (PIN disabled)";
    case 0x6A88: return "referenced data not found";
    case 0x6A80: return "incorrect data";
    case 0x6A81: return "function not supported";
    case 0x9862: return "authentication error, incorrect MAC";
    case 0x9300: return "toolkit busy";
    case 0x6F00: return "technical problem";
    default: break;
  }
  return "status " + SwToString(sw);
}

}  // namespace simkms::chip
