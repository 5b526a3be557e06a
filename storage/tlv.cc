#include "storage/tlv.h"

#include <string>

namespace simkms::storage::tlv {

void AppendVarint(Bytes& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

void AppendU32BE(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

void AppendU64BE(Bytes& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

uint32_t ReadU32BE(ByteView in) {
  uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | in[i];
  return v;
}

uint64_t ReadU64BE(ByteView in) {
  uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | in[i];
  return v;
}

void Writer::AddBytes(uint8_t tag, ByteView value) {
  out_.push_back(tag);
  AppendVarint(out_, value.size());
  out_.insert(out_.end(), value.begin(), value.end());
}

void Writer::AddU8(uint8_t tag, uint8_t v) {
  const uint8_t b[1] = {v};
  AddBytes(tag, b);
}

void Writer::AddU32(uint8_t tag, uint32_t v) {
  Bytes b;
  AppendU32BE(b, v);
  AddBytes(tag, b);
}

void Writer::AddU64(uint8_t tag, uint64_t v) {
  Bytes b;
  AppendU64BE(b, v);
  AddBytes(tag, b);
}

StatusOr<uint64_t> ReadVarint(ByteView in, std::size_t& pos) {
  const std::size_t start = pos;
  uint64_t v = 0;
  for (int i = 0; i < 10; ++i) {
    if (pos >= in.size()) {
      return DataLossError("varint at offset " + std::to_string(start) + " truncated");
    }
    const uint8_t b = in[pos++];
    if (i == 9 && b > 0x01) {
      return DataLossError("varint at offset " + std::to_string(start) + " overflows 64 bits");
    }
    v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      if (b == 0 && i > 0) {
        return DataLossError("varint at offset " + std::to_string(start) + " is not minimal");
      }
      return v;
    }
  }
  return DataLossError("varint at offset " + std::to_string(start) + " longer than 10 bytes");
}

Status Reader::Error(std::string_view message) const {
  return DataLossError(what_ + ": " + std::string(message));
}

Status Reader::ReadVersion(uint8_t expected) {
  if (in_.empty()) return Error("empty value (no format-version byte)");
  const uint8_t v = in_[0];
  if (v != expected) {
    return Error("unsupported format version " + std::to_string(v) + " (this build reads " +
                 std::to_string(expected) + ")");
  }
  pos_ = 1;
  return OkStatus();
}

StatusOr<Field> Reader::Next() {
  Field f;
  f.offset = pos_;
  f.tag = in_[pos_++];
  auto len = ReadVarint(in_, pos_);
  if (!len.ok()) return Error("tag " + std::to_string(f.tag) + ": " + len.status().message());
  if (*len > in_.size() - pos_) {
    return Error("tag " + std::to_string(f.tag) + " at offset " + std::to_string(f.offset) +
                 ": length " + std::to_string(*len) + " runs past the end (" +
                 std::to_string(in_.size() - pos_) + " bytes left)");
  }
  f.value = in_.subspan(pos_, static_cast<std::size_t>(*len));
  pos_ += static_cast<std::size_t>(*len);
  return f;
}

namespace {
std::string LengthMessage(const Field& f, std::size_t want) {
  return "tag " + std::to_string(f.tag) + " at offset " + std::to_string(f.offset) + ": length " +
         std::to_string(f.value.size()) + ", expected " + std::to_string(want);
}
}  // namespace

Status Reader::AsU8(const Field& f, uint8_t& out) const {
  if (f.value.size() != 1) return Error(LengthMessage(f, 1));
  out = f.value[0];
  return OkStatus();
}

Status Reader::AsBool(const Field& f, bool& out) const {
  uint8_t v = 0;
  SIMKMS_RETURN_IF_ERROR(AsU8(f, v));
  if (v > 1) {
    return Error("tag " + std::to_string(f.tag) + " at offset " + std::to_string(f.offset) +
                 ": boolean value " + std::to_string(v) + " is neither 0 nor 1");
  }
  out = v == 1;
  return OkStatus();
}

Status Reader::AsU32(const Field& f, uint32_t& out) const {
  if (f.value.size() != 4) return Error(LengthMessage(f, 4));
  out = ReadU32BE(f.value);
  return OkStatus();
}

Status Reader::AsU64(const Field& f, uint64_t& out) const {
  if (f.value.size() != 8) return Error(LengthMessage(f, 8));
  out = ReadU64BE(f.value);
  return OkStatus();
}

Status Reader::AsI64(const Field& f, int64_t& out) const {
  uint64_t v = 0;
  SIMKMS_RETURN_IF_ERROR(AsU64(f, v));
  out = static_cast<int64_t>(v);
  return OkStatus();
}

}  // namespace simkms::storage::tlv
