#include "tools/chipsim/tlv.h"

#include <cassert>
#include <string>

namespace simkms::chip {
namespace {

std::string Hex1(uint8_t b) { return ToHex(ByteView(&b, 1)); }

}  // namespace

void AppendTlv(Bytes& out, uint8_t tag, ByteView value) {
  assert(value.size() <= 255);
  out.push_back(tag);
  if (value.size() >= 0x80) out.push_back(0x81);
  out.push_back(static_cast<uint8_t>(value.size()));
  out.insert(out.end(), value.begin(), value.end());
}

Bytes MakeTlv(uint8_t tag, ByteView value) {
  Bytes out;
  AppendTlv(out, tag, value);
  return out;
}

StatusOr<std::vector<Tlv>> ParseTlvs(ByteView data) {
  std::vector<Tlv> out;
  std::size_t i = 0;
  while (i < data.size()) {
    uint8_t tag = data[i++];
    if (tag == 0x00 || tag == 0xff || tag == 0x7f) {
      return InvalidArgumentError("TLV: unsupported tag " + Hex1(tag) + " at offset " + std::to_string(i - 1));
    }
    if (i >= data.size()) return InvalidArgumentError("TLV " + Hex1(tag) + ": length missing");
    std::size_t len = data[i++];
    if (len == 0x81) {
      if (i >= data.size()) return InvalidArgumentError("TLV " + Hex1(tag) + ": length missing");
      len = data[i++];
      if (len < 0x80) return InvalidArgumentError("TLV " + Hex1(tag) + ": length 81 " + std::to_string(len) + " not minimal");
    } else if (len >= 0x80) {
      return InvalidArgumentError("TLV " + Hex1(tag) + ": unsupported length byte " + Hex1(static_cast<uint8_t>(len)));
    }
    if (len > data.size() - i) {
      return InvalidArgumentError("TLV " + Hex1(tag) + ": length " + std::to_string(len) + " runs past the data");
    }
    out.push_back(Tlv{tag, Bytes(data.begin() + i, data.begin() + i + len)});
    i += len;
  }
  return out;
}

StatusOr<Bytes> UnwrapTlv(ByteView data, uint8_t tag) {
  SIMKMS_ASSIGN_OR_RETURN(std::vector<Tlv> tlvs, ParseTlvs(data));
  if (tlvs.size() != 1 || tlvs[0].tag != tag) {
    return InvalidArgumentError("expected exactly one TLV with tag " + Hex1(tag));
  }
  return std::move(tlvs[0].value);
}

const Tlv* FindComprehension(const std::vector<Tlv>& tlvs, uint8_t tag) {
  for (const Tlv& t : tlvs) {
    if ((t.tag & 0x7f) == (tag & 0x7f)) return &t;
  }
  return nullptr;
}

}  // namespace simkms::chip
