#include "sc-engine/protocol/sms_segments.h"

#include <algorithm>

namespace simkms::protocol {
namespace {


std::string Num(std::size_t n) { return std::to_string(n); }

Status SegmentError(const std::string& what) { return InvalidArgumentError("SMS user data: " + what); }

// --- address fields (TS 23.040 §9.1.2.5) ---

constexpr std::size_t kMaxAddressDigits = 20;
constexpr char kSemiOctetChars[] = "0123456789*#abc";  // values 0x0..0xE; 0xF is the filler

StatusOr<uint8_t> SemiOctet(char c) {
  for (uint8_t v = 0; v < 15; ++v) {
    if (kSemiOctetChars[v] == c) return v;
  }
  return InvalidArgumentError(std::string("SMS address: '") + c + "' is not a digit of 0-9 * # a b c");
}

Status CheckTypeOfAddress(uint8_t type) {
  if ((type & 0x80) == 0) return InvalidArgumentError("SMS address: type of address must have bit 8 set");
  if ((type & 0x70) == 0x50) return InvalidArgumentError("SMS address: alphanumeric addresses are not supported");
  return OkStatus();
}

Status PutAddress(Bytes& out, const SmsAddress& a) {
  if (a.digits.size() > kMaxAddressDigits) {
    return InvalidArgumentError("SMS address: " + Num(a.digits.size()) + " digits, at most 20");
  }
  SIMKMS_RETURN_IF_ERROR(CheckTypeOfAddress(a.type));
  out.push_back(static_cast<uint8_t>(a.digits.size()));
  out.push_back(a.type);
  for (std::size_t i = 0; i < a.digits.size(); i += 2) {
    SIMKMS_ASSIGN_OR_RETURN(uint8_t low, SemiOctet(a.digits[i]));
    uint8_t high = 0x0F;
    if (i + 1 < a.digits.size()) {
      SIMKMS_ASSIGN_OR_RETURN(high, SemiOctet(a.digits[i + 1]));
    }
    out.push_back(static_cast<uint8_t>(high << 4 | low));
  }
  return OkStatus();
}

// Reads fields from a TPDU; every read checks the remaining length first.
class TpduReader {
 public:
  TpduReader(const char* what, ByteView data) : what_(what), data_(data) {}

  Status Byte(const char* field, uint8_t* out) {
    if (pos_ >= data_.size()) return Fail(std::string("truncated at ") + field);
    *out = data_[pos_++];
    return OkStatus();
  }
  Status Take(const char* field, std::size_t n, ByteView* out) {
    if (n > data_.size() - pos_) return Fail(std::string("truncated in ") + field);
    *out = data_.subspan(pos_, n);
    pos_ += n;
    return OkStatus();
  }
  Status Address(const char* field, SmsAddress* out) {
    uint8_t digits = 0;
    SIMKMS_RETURN_IF_ERROR(Byte(field, &digits));
    if (digits > kMaxAddressDigits) return Fail(std::string(field) + " has " + Num(digits) + " digits, at most 20");
    SIMKMS_RETURN_IF_ERROR(Byte(field, &out->type));
    Status toa = CheckTypeOfAddress(out->type);
    if (!toa.ok()) return Fail(std::string(field) + ": " + toa.message());
    ByteView octets;
    SIMKMS_RETURN_IF_ERROR(Take(field, (digits + 1u) / 2, &octets));
    out->digits.clear();
    for (std::size_t i = 0; i < digits; ++i) {
      const uint8_t v = (i % 2 == 0) ? (octets[i / 2] & 0x0F) : (octets[i / 2] >> 4);
      if (v == 0x0F) return Fail(std::string(field) + " has a filler inside the digits");
      out->digits.push_back(kSemiOctetChars[v]);
    }
    if (digits % 2 == 1 && (octets.back() >> 4) != 0x0F) {
      return Fail(std::string(field) + " with an odd number of digits must end in filler F");
    }
    return OkStatus();
  }
  // TP-UDL then TP-UD: for 8-bit data the UDL counts octets and must be exactly
  // what is left; with TP-UDHI the UDH must fit in it.
  Status UserData(bool udhi, Bytes* out) {
    uint8_t udl = 0;
    SIMKMS_RETURN_IF_ERROR(Byte("TP-UDL", &udl));
    if (udl > kMaxUserDataSize) return Fail("TP-UDL " + Num(udl) + " is over 140");
    if (udl != data_.size() - pos_) {
      return Fail("TP-UDL " + Num(udl) + " but " + Num(data_.size() - pos_) + " bytes of TP-UD follow");
    }
    ByteView ud;
    SIMKMS_RETURN_IF_ERROR(Take("TP-UD", udl, &ud));
    if (udhi && (ud.empty() || std::size_t{ud[0]} + 1 > ud.size())) return Fail("TP-UDHI set but the UDH does not fit");
    out->assign(ud.begin(), ud.end());
    return OkStatus();
  }
  Status Fail(const std::string& why) const { return InvalidArgumentError(std::string(what_) + ": " + why); }

 private:
  const char* what_;
  ByteView data_;
  std::size_t pos_ = 0;
};

Status CheckUserData(const char* what, uint8_t dcs, bool udhi, const Bytes& ud) {
  const std::string w(what);
  if (!IsEightBitData(dcs)) return InvalidArgumentError(w + ": TP-DCS " + Num(dcs) + " is not uncompressed 8-bit data");
  if (ud.size() > kMaxUserDataSize) return InvalidArgumentError(w + ": " + Num(ud.size()) + " bytes of TP-UD, at most 140");
  if (udhi && (ud.empty() || std::size_t{ud[0]} + 1 > ud.size())) {
    return InvalidArgumentError(w + ": TP-UDHI set but the UDH does not fit");
  }
  return OkStatus();
}

// Both concatenation forms: IEI 0x00 (00 03 ref total seq) or 0x08 (08 04 ref-hi
// ref-lo total seq), which takes one byte more of every SMS.
StatusOr<std::vector<Bytes>> SplitWith(ByteView packet, bool wide, uint16_t reference) {
  if (packet.empty()) return InvalidArgumentError("SMS split: empty packet");
  if (packet.size() > kMaxPacketSize) {
    return InvalidArgumentError("SMS split: packet of " + Num(packet.size()) + " bytes is over " +
                                Num(kMaxPacketSize));
  }
  std::vector<Bytes> out;
  if (packet.size() <= kSingleSmsCapacity) {
    Bytes ud{0x02, kIeiCommandPacket, 0x00};
    ud.insert(ud.end(), packet.begin(), packet.end());
    out.push_back(std::move(ud));
    return out;
  }
  const std::size_t extra = wide ? 1 : 0;
  const std::size_t first_capacity = kFirstSegmentCapacity - extra;
  const std::size_t other_capacity = kOtherSegmentCapacity - extra;
  const std::size_t rest = packet.size() - first_capacity;
  const std::size_t total = 1 + (rest + other_capacity - 1) / other_capacity;  // <= 16
  std::size_t pos = 0;
  for (std::size_t seq = 1; seq <= total; ++seq) {
    Bytes ie = wide ? Bytes{kIeiConcatenated16, 0x04, static_cast<uint8_t>(reference >> 8),
                            static_cast<uint8_t>(reference)}
                    : Bytes{kIeiConcatenated8, 0x03, static_cast<uint8_t>(reference)};
    ie.push_back(static_cast<uint8_t>(total));
    ie.push_back(static_cast<uint8_t>(seq));
    if (seq == 1) {
      ie.push_back(kIeiCommandPacket);
      ie.push_back(0x00);
    }
    Bytes ud{static_cast<uint8_t>(ie.size())};
    ud.insert(ud.end(), ie.begin(), ie.end());
    const std::size_t n = std::min(seq == 1 ? first_capacity : other_capacity, packet.size() - pos);
    ud.insert(ud.end(), packet.begin() + pos, packet.begin() + pos + n);
    pos += n;
    out.push_back(std::move(ud));
  }
  return out;
}

}  // namespace

StatusOr<std::vector<Bytes>> Split(ByteView packet, uint8_t reference) { return SplitWith(packet, false, reference); }

StatusOr<std::vector<Bytes>> SplitWithSixteenBitReference(ByteView packet, uint16_t reference) {
  return SplitWith(packet, true, reference);
}

StatusOr<Segment> ParseSegment(ByteView ud) {
  if (ud.empty()) return SegmentError("empty");
  if (ud.size() > kMaxUserDataSize) return SegmentError(Num(ud.size()) + " bytes, at most 140");
  const std::size_t end = 1 + std::size_t{ud[0]};
  if (end > ud.size()) return SegmentError("UDHL " + Num(ud[0]) + " runs past the user data");
  Segment s;
  bool seen_concat = false;
  std::size_t pos = 1;
  while (pos < end) {
    if (end - pos < 2) return SegmentError("truncated information element in the UDH");
    const uint8_t iei = ud[pos];
    const std::size_t len = ud[pos + 1];
    pos += 2;
    if (len > end - pos) return SegmentError("IEI " + Num(iei) + " runs past the UDH");
    switch (iei) {
      case kIeiConcatenated8:
      case kIeiConcatenated16: {
        const bool wide = iei == kIeiConcatenated16;
        const std::string name = wide ? "IEI 0x08 (concatenation, 16-bit reference)" : "IEI 0x00 (concatenation)";
        if (seen_concat) return SegmentError(name + " repeated, or both 0x00 and 0x08");
        if (len != (wide ? 4u : 3u)) return SegmentError(name + " must have length " + (wide ? "4" : "3"));
        seen_concat = true;
        s.concatenated = true;
        s.reference_16bit = wide;
        s.reference = wide ? static_cast<uint16_t>(ud[pos] << 8 | ud[pos + 1]) : ud[pos];
        s.total = ud[pos + (wide ? 2 : 1)];
        s.sequence = ud[pos + (wide ? 3 : 2)];
        break;
      }
      case kIeiCommandPacket:
        if (s.command_packet) return SegmentError("IEI 0x70 (command packet) repeated");
        if (len != 0) return SegmentError("IEI 0x70 (command packet) must have length 0");
        s.command_packet = true;
        break;
      default:
        break;  // TS 23.040 §9.2.3.24: skip what is not supported
    }
    pos += len;
  }
  if (s.concatenated) {
    if (s.total == 0 || s.total > kMaxSegments) {
      return SegmentError("concatenation total " + Num(s.total) + " is not 1.." + Num(kMaxSegments));
    }
    if (s.sequence == 0 || s.sequence > s.total) {
      return SegmentError("sequence " + Num(s.sequence) + " is not 1.." + Num(s.total));
    }
  }
  const bool first = s.sequence == 1;
  if (first && !s.command_packet) return SegmentError("first SMS lacks IEI 0x70 (command packet identifier)");
  if (!first && s.command_packet) return SegmentError("IEI 0x70 in SMS " + Num(s.sequence) + ", only the first may carry it");
  if (end == ud.size()) return SegmentError("no packet bytes after the UDH");
  s.data.assign(ud.begin() + static_cast<std::ptrdiff_t>(end), ud.end());
  return s;
}

StatusOr<std::optional<Bytes>> Reassembler::Add(ByteView user_data) {
  SIMKMS_ASSIGN_OR_RETURN(Segment s, ParseSegment(user_data));
  if (s.total == 1) return std::optional<Bytes>(std::move(s.data));  // 139 bytes at most

  const std::string name = "SMS " + Num(s.sequence) + "/" + Num(s.total) + " of reference " + Num(s.reference);
  auto it = std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) {
    return p.reference == s.reference && p.reference_16bit == s.reference_16bit;
  });
  if (it == pending_.end()) {
    if (pending_.size() >= kMaxPendingMessages) {
      auto oldest = std::min_element(pending_.begin(), pending_.end(), [](const Pending& a, const Pending& b) {
        return a.last_touched < b.last_touched;
      });
      pending_.erase(oldest);
      ++dropped_;
    }
    Pending p;
    p.reference_16bit = s.reference_16bit;
    p.reference = s.reference;
    p.total = s.total;
    pending_.push_back(std::move(p));
    it = pending_.end() - 1;
  } else if (it->total != s.total) {
    return InvalidArgumentError(name + ": the other segments of this reference say total " + Num(it->total));
  }
  std::optional<Bytes>& slot = it->parts[s.sequence - 1];
  if (slot) return AlreadyExistsError(name + ": duplicate segment");
  if (it->bytes + s.data.size() > kMaxPacketSize) {
    pending_.erase(it);
    return ResourceExhaustedError(name + ": the packet would exceed " + Num(kMaxPacketSize) + " bytes; dropped");
  }
  it->bytes += s.data.size();
  slot = std::move(s.data);
  it->last_touched = ++clock_;
  if (++it->received < it->total) return std::optional<Bytes>();

  Bytes packet;
  packet.reserve(it->bytes);
  for (std::size_t i = 0; i < it->total; ++i) packet.insert(packet.end(), it->parts[i]->begin(), it->parts[i]->end());
  pending_.erase(it);
  return std::optional<Bytes>(std::move(packet));
}

// --- TPDUs ---

bool IsEightBitData(uint8_t dcs) {
  if ((dcs & 0x80) == 0) {              // general data coding (00xx) and automatic deletion (01xx)
    if (dcs & 0x20) return false;       // compressed
    return ((dcs >> 2) & 0x03) == 0x01;  // alphabet 01: 8-bit data
  }
  if ((dcs & 0xF0) == 0xF0) return (dcs & 0x04) != 0;  // data coding / message class
  return false;                          // message waiting groups: 7-bit or UCS2
}

StatusOr<Bytes> EncodeSmsDeliver(const SmsDeliver& sms) {
  SIMKMS_RETURN_IF_ERROR(CheckUserData("SMS-DELIVER", sms.dcs, sms.user_data_header, sms.user_data));
  Bytes out;
  out.push_back(static_cast<uint8_t>(0x00 | (sms.more_messages_to_send ? 0 : 0x04) | (sms.user_data_header ? 0x40 : 0)));
  Status a = PutAddress(out, sms.originator);
  if (!a.ok()) return a.WithContext("SMS-DELIVER TP-OA");
  out.push_back(sms.pid);
  out.push_back(sms.dcs);
  out.insert(out.end(), sms.scts.begin(), sms.scts.end());
  out.push_back(static_cast<uint8_t>(sms.user_data.size()));
  out.insert(out.end(), sms.user_data.begin(), sms.user_data.end());
  return out;
}

StatusOr<SmsDeliver> DecodeSmsDeliver(ByteView tpdu) {
  TpduReader r("SMS-DELIVER", tpdu);
  SmsDeliver sms;
  uint8_t first = 0;
  SIMKMS_RETURN_IF_ERROR(r.Byte("first octet", &first));
  if ((first & 0x03) != 0x00) return r.Fail("TP-MTI " + Num(first & 0x03) + " is not SMS-DELIVER (0)");
  sms.more_messages_to_send = (first & 0x04) == 0;
  sms.user_data_header = (first & 0x40) != 0;
  SIMKMS_RETURN_IF_ERROR(r.Address("TP-OA", &sms.originator));
  SIMKMS_RETURN_IF_ERROR(r.Byte("TP-PID", &sms.pid));
  SIMKMS_RETURN_IF_ERROR(r.Byte("TP-DCS", &sms.dcs));
  if (!IsEightBitData(sms.dcs)) return r.Fail("TP-DCS " + Num(sms.dcs) + " is not uncompressed 8-bit data");
  ByteView scts;
  SIMKMS_RETURN_IF_ERROR(r.Take("TP-SCTS", sms.scts.size(), &scts));
  std::copy(scts.begin(), scts.end(), sms.scts.begin());
  SIMKMS_RETURN_IF_ERROR(r.UserData(sms.user_data_header, &sms.user_data));
  return sms;
}

StatusOr<Bytes> EncodeSmsSubmit(const SmsSubmit& sms) {
  SIMKMS_RETURN_IF_ERROR(CheckUserData("SMS-SUBMIT", sms.dcs, sms.user_data_header, sms.user_data));
  Bytes out;
  out.push_back(static_cast<uint8_t>(0x01 | (sms.user_data_header ? 0x40 : 0)));  // TP-VPF 00: no validity period
  out.push_back(sms.message_reference);
  Status a = PutAddress(out, sms.destination);
  if (!a.ok()) return a.WithContext("SMS-SUBMIT TP-DA");
  out.push_back(sms.pid);
  out.push_back(sms.dcs);
  out.push_back(static_cast<uint8_t>(sms.user_data.size()));
  out.insert(out.end(), sms.user_data.begin(), sms.user_data.end());
  return out;
}

StatusOr<SmsSubmit> DecodeSmsSubmit(ByteView tpdu) {
  TpduReader r("SMS-SUBMIT", tpdu);
  SmsSubmit sms;
  uint8_t first = 0;
  SIMKMS_RETURN_IF_ERROR(r.Byte("first octet", &first));
  if ((first & 0x03) != 0x01) return r.Fail("TP-MTI " + Num(first & 0x03) + " is not SMS-SUBMIT (1)");
  sms.user_data_header = (first & 0x40) != 0;
  SIMKMS_RETURN_IF_ERROR(r.Byte("TP-MR", &sms.message_reference));
  SIMKMS_RETURN_IF_ERROR(r.Address("TP-DA", &sms.destination));
  SIMKMS_RETURN_IF_ERROR(r.Byte("TP-PID", &sms.pid));
  SIMKMS_RETURN_IF_ERROR(r.Byte("TP-DCS", &sms.dcs));
  if (!IsEightBitData(sms.dcs)) return r.Fail("TP-DCS " + Num(sms.dcs) + " is not uncompressed 8-bit data");
  // TP-VPF, bits 4..3: 00 none, 10 relative (1 octet), 01 enhanced / 11 absolute (7 octets).
  const uint8_t vpf = (first >> 3) & 0x03;
  ByteView vp;
  SIMKMS_RETURN_IF_ERROR(r.Take("TP-VP", vpf == 0 ? 0 : vpf == 2 ? 1 : 7, &vp));
  SIMKMS_RETURN_IF_ERROR(r.UserData(sms.user_data_header, &sms.user_data));
  return sms;
}

}  // namespace simkms::protocol
