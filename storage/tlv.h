// INTERNAL to simkms_storage (and its tests): the TLV value encoding shared by every
// record type. Not part of the storage API; see docs/storage-format.md for the format.
//
// A value is: one format-version byte, then fields, each
//   tag (u8) | length (unsigned LEB128, minimal, at most 10 bytes) | value (length bytes).
// Integers are fixed-width big-endian inside the value (u8: 1, u32: 4, u64/i64: 8 bytes,
// i64 two's complement); booleans are one byte 0x00/0x01; strings and byte strings are
// their raw bytes. The encoder writes fields in ascending tag order; the decoder accepts
// any order, skips unknown tags, and rejects everything malformed with DataLoss.
//
// Threading: the types here are plain values; no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace simkms::storage::tlv {

// Appends the minimal unsigned LEB128 encoding of v.
void AppendVarint(Bytes& out, uint64_t v);
void AppendU32BE(Bytes& out, uint32_t v);
void AppendU64BE(Bytes& out, uint64_t v);
uint32_t ReadU32BE(ByteView in);  // in.size() must be 4
uint64_t ReadU64BE(ByteView in);  // in.size() must be 8

// Builds one encoded value. Each Add* appends one field.
class Writer {
 public:
  explicit Writer(uint8_t format_version) { out_.push_back(format_version); }
  void AddBytes(uint8_t tag, ByteView value);
  void AddString(uint8_t tag, std::string_view value) { AddBytes(tag, AsBytes(value)); }
  void AddU8(uint8_t tag, uint8_t v);
  void AddBool(uint8_t tag, bool v) { AddU8(tag, v ? 1 : 0); }
  void AddU32(uint8_t tag, uint32_t v);
  void AddU64(uint8_t tag, uint64_t v);
  void AddI64(uint8_t tag, int64_t v) { AddU64(tag, static_cast<uint64_t>(v)); }
  // Number of bytes written so far (the offset the next field's tag byte will have).
  std::size_t size() const { return out_.size(); }
  const Bytes& bytes() const { return out_; }
  Bytes Finish() && { return std::move(out_); }

 private:
  Bytes out_;
};

// One decoded field; `value` points into the input, which must outlive it.
struct Field {
  uint8_t tag = 0;
  ByteView value;
  std::size_t offset = 0;  // offset of the tag byte within the whole encoded value
};

// Walks the fields of one encoded value. Errors are DataLoss, prefixed with `what`
// (e.g. "subscriber record"), and name the offset of the bad byte.
class Reader {
 public:
  Reader(ByteView in, std::string what) : in_(in), what_(std::move(what)) {}
  // Checks the version byte: must equal `expected` (DataLoss otherwise).
  Status ReadVersion(uint8_t expected);
  bool done() const { return pos_ >= in_.size(); }
  // Reads the next field. Precondition: !done().
  StatusOr<Field> Next();

  // Typed views of a field's value; DataLoss when the length or value is wrong.
  Status AsU8(const Field& f, uint8_t& out) const;
  Status AsBool(const Field& f, bool& out) const;
  Status AsU32(const Field& f, uint32_t& out) const;
  Status AsU64(const Field& f, uint64_t& out) const;
  Status AsI64(const Field& f, int64_t& out) const;
  static void AsBytes(const Field& f, Bytes& out) { out.assign(f.value.begin(), f.value.end()); }
  static void AsString(const Field& f, std::string& out) {
    out.assign(reinterpret_cast<const char*>(f.value.data()), f.value.size());
  }

  // A DataLoss status "what: message".
  Status Error(std::string_view message) const;

 private:
  ByteView in_;
  std::string what_;
  std::size_t pos_ = 0;
};

// Decodes a varint at in[pos...]; advances pos. DataLoss-style message on failure
// (truncated, longer than 10 bytes, overflow, non-minimal).
StatusOr<uint64_t> ReadVarint(ByteView in, std::size_t& pos);

// Tracks which tags were seen, to reject duplicates and report missing required fields.
class TagSet {
 public:
  // Returns false if the tag was already seen.
  bool Insert(uint8_t tag) {
    const uint64_t bit = uint64_t{1} << (tag & 63);
    uint64_t& word = words_[tag >> 6];
    if (word & bit) return false;
    word |= bit;
    return true;
  }
  bool Contains(uint8_t tag) const { return (words_[tag >> 6] >> (tag & 63)) & 1; }

 private:
  uint64_t words_[4] = {0, 0, 0, 0};
};

}  // namespace simkms::storage::tlv
