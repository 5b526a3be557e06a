#include "tools/chipsim/ef_codec.h"

#include <vector>

namespace simkms::chip {
namespace {

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Digits into nibble-swapped BCD starting at out[0], 'F' filler in the rest.
template <std::size_t N>
void PutSwapped(std::string_view digits, std::array<uint8_t, N>& out, std::size_t first_byte) {
  for (std::size_t i = 0; i < digits.size(); ++i) {
    uint8_t d = static_cast<uint8_t>(digits[i] - '0');
    uint8_t& byte = out[first_byte + i / 2];
    byte = (i % 2 == 0) ? static_cast<uint8_t>(0xf0 | d) : static_cast<uint8_t>((byte & 0x0f) | (d << 4));
  }
}

// Reads nibble-swapped BCD digits until the first 'F' filler; everything after
// the filler must be filler too.
StatusOr<std::string> GetSwapped(ByteView bytes, std::string_view what) {
  std::string digits;
  bool filler = false;
  for (uint8_t b : bytes) {
    for (uint8_t nibble : {static_cast<uint8_t>(b & 0x0f), static_cast<uint8_t>(b >> 4)}) {
      if (nibble == 0x0f) {
        filler = true;
      } else if (nibble > 9) {
        return DataLossError(std::string(what) + ": nibble " + std::to_string(nibble) + " is not BCD");
      } else if (filler) {
        return DataLossError(std::string(what) + ": digit after the F filler");
      } else {
        digits.push_back(static_cast<char>('0' + nibble));
      }
    }
  }
  return digits;
}

}  // namespace

StatusOr<EfIccid> EncodeEfIccid(std::string_view iccid) {
  if (iccid.size() < 19 || iccid.size() > 20 || !AllDigits(iccid)) {
    return InvalidArgumentError("ICCID must be 19 or 20 decimal digits, got '" + std::string(iccid) + "'");
  }
  EfIccid ef;
  ef.fill(0xff);
  PutSwapped(iccid, ef, 0);
  return ef;
}

StatusOr<std::string> DecodeEfIccid(ByteView ef) {
  if (ef.size() != 10) return DataLossError("EF_ICCID must be 10 bytes, got " + std::to_string(ef.size()));
  SIMKMS_ASSIGN_OR_RETURN(std::string digits, GetSwapped(ef, "EF_ICCID"));
  if (digits.size() < 19) return DataLossError("EF_ICCID holds only " + std::to_string(digits.size()) + " digits");
  return digits;
}

StatusOr<EfImsi> EncodeEfImsi(std::string_view imsi) {
  if (imsi.size() < 6 || imsi.size() > 15 || !AllDigits(imsi)) {
    return InvalidArgumentError("IMSI must be 6 to 15 decimal digits, got '" + std::string(imsi) + "'");
  }
  EfImsi ef;
  ef.fill(0xff);
  ef[0] = static_cast<uint8_t>((imsi.size() + 2) / 2);  // digits + parity nibble, in bytes
  uint8_t parity = (imsi.size() % 2 == 1) ? 0x09 : 0x01;
  ef[1] = static_cast<uint8_t>(((imsi[0] - '0') << 4) | parity);
  PutSwapped(imsi.substr(1), ef, 2);
  return ef;
}

StatusOr<std::string> DecodeEfImsi(ByteView ef) {
  if (ef.size() != 9) return DataLossError("EF_IMSI must be 9 bytes, got " + std::to_string(ef.size()));
  const std::size_t length = ef[0];
  if (length < 4 || length > 8) return DataLossError("EF_IMSI length byte must be 04..08, got " + ToHex(ef.subspan(0, 1)));
  for (std::size_t i = 1 + length; i < ef.size(); ++i) {
    if (ef[i] != 0xff) return DataLossError("EF_IMSI: bytes after the IMSI must be FF");
  }
  uint8_t type = ef[1] & 0x0f;
  if ((type & 0x07) != 0x01) return DataLossError("EF_IMSI: type of identity is not IMSI (001)");
  uint8_t first = ef[1] >> 4;
  if (first > 9) return DataLossError("EF_IMSI: first digit is not BCD");
  SIMKMS_ASSIGN_OR_RETURN(std::string rest, GetSwapped(ef.subspan(2, length - 1), "EF_IMSI"));
  std::string imsi = std::string(1, static_cast<char>('0' + first)) + rest;
  if (imsi.size() < 6) return DataLossError("EF_IMSI holds only " + std::to_string(imsi.size()) + " digits");
  if ((imsi.size() + 2) / 2 != length) return DataLossError("EF_IMSI: length byte disagrees with the digit count");
  bool odd = (type & 0x08) != 0;
  if (odd != (imsi.size() % 2 == 1)) return DataLossError("EF_IMSI: parity bit disagrees with the digit count");
  return imsi;
}

}  // namespace simkms::chip
