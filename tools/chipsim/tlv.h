// The TLV encodings of the toolkit and of file control parameters:
// BER-TLV templates (D0 proactive command, D1 SMS-PP download, 62 FCP) and
// the COMPREHENSION-TLV data objects inside them (TS 102 223 §8, TS 101 220
// §7.1.1), restricted to what the chip uses: one-byte tags and lengths coded
// on one byte (0..127) or as 81 XX (128..255). A COMPREHENSION-TLV tag's top
// bit is the "comprehension required" flag, so lookups ignore it.
#pragma once

#include <cstdint>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace simkms::chip {

struct Tlv {
  uint8_t tag = 0;
  Bytes value;
};

// value must be at most 255 bytes (the caller's contract; asserted).
void AppendTlv(Bytes& out, uint8_t tag, ByteView value);
// A whole TLV: tag, length, value.
Bytes MakeTlv(uint8_t tag, ByteView value);

// Splits a sequence of TLVs. InvalidArgument for a tag 00/FF/7F (padding or the
// 3-byte tag format, not used here), a length byte 80 or 82.., a length 81 XX
// with XX < 128, or a value running past the data.
StatusOr<std::vector<Tlv>> ParseTlvs(ByteView data);

// The value of a single TLV with exactly `tag` that spans all of `data`.
StatusOr<Bytes> UnwrapTlv(ByteView data, uint8_t tag);

// First data object whose tag equals `tag` ignoring the CR bit (0x80), or null.
const Tlv* FindComprehension(const std::vector<Tlv>& tlvs, uint8_t tag);

}  // namespace simkms::chip
