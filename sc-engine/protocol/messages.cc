#include "sc-engine/protocol/messages.h"

#include <string>

namespace simkms::protocol {
namespace {

enum : uint8_t {
  kTypeHello = 0x01,
  kTypeChallenge = 0x02,
  kTypeConfirm = 0x03,
  kTypeCommit = 0x04,
  kTypeError = 0x7F,
};

enum : uint8_t {
  kTagKind = 0x01,
  kTagVer = 0x02,
  kTagIccid = 0x03,
  kTagNonceC = 0x04,
  kTagYc = 0x05,
  kTagResync = 0x06,
  kTagSessionId = 0x10,
  kTagNonceS = 0x11,
  kTagYs = 0x12,
  kTagRand = 0x13,
  kTagActivationRequired = 0x14,
  kTagRes = 0x20,
  kTagActivationProof = 0x21,
  kTagCommitMac = 0x30,
  kTagOpc = 0x31,
  kTagTriesLeft = 0x7E,
  kTagErrorCode = 0x7F,
};

void PutTlv(Bytes& out, uint8_t tag, ByteView value) {
  out.push_back(tag);
  const std::size_t n = value.size();
  if (n < 0x80) {
    out.push_back(static_cast<uint8_t>(n));
  } else if (n < 0x100) {
    out.push_back(0x81);
    out.push_back(static_cast<uint8_t>(n));
  } else {
    out.push_back(0x82);
    out.push_back(static_cast<uint8_t>(n >> 8));
    out.push_back(static_cast<uint8_t>(n));
  }
  out.insert(out.end(), value.begin(), value.end());
}

template <std::size_t N>
void PutTlv(Bytes& out, uint8_t tag, const std::array<uint8_t, N>& value) {
  PutTlv(out, tag, ByteView(value.data(), N));
}

void PutByte(Bytes& out, uint8_t tag, uint8_t value) { PutTlv(out, tag, ByteView(&value, 1)); }

struct Tlv {
  uint8_t tag;
  ByteView value;
};

// Reads TLVs in order; each Expect() takes the next one if it has the tag.
class Reader {
 public:
  Reader(const char* message, ByteView data) : message_(message), data_(data) {}

  Status Next(Tlv* tlv) {
    if (pos_ >= data_.size()) return Fail("truncated");
    tlv->tag = data_[pos_++];
    if (pos_ >= data_.size()) return Fail("truncated length");
    std::size_t len = data_[pos_++];
    if (len == 0x81 || len == 0x82) {
      const std::size_t bytes = len - 0x80;
      if (pos_ + bytes > data_.size()) return Fail("truncated length");
      len = 0;
      for (std::size_t i = 0; i < bytes; ++i) len = len << 8 | data_[pos_++];
      if ((bytes == 1 && len < 0x80) || (bytes == 2 && len < 0x100)) return Fail("non-minimal length");
    } else if (len > 0x7F) {
      return Fail("unsupported length encoding");
    }
    if (len > data_.size() - pos_) return Fail("value runs past the end");
    tlv->value = data_.subspan(pos_, len);
    pos_ += len;
    return OkStatus();
  }

  bool Peek(uint8_t tag) const { return pos_ < data_.size() && data_[pos_] == tag; }
  bool AtEnd() const { return pos_ == data_.size(); }

  template <std::size_t N>
  Status Fixed(uint8_t tag, const char* name, std::array<uint8_t, N>* out) {
    Tlv tlv;
    SIMKMS_RETURN_IF_ERROR(Next(&tlv));
    if (tlv.tag != tag) return Fail(std::string("expected ") + name);
    if (tlv.value.size() != N) return Fail(std::string(name) + " must be " + std::to_string(N) + " bytes");
    std::copy(tlv.value.begin(), tlv.value.end(), out->begin());
    return OkStatus();
  }

  Status Variable(uint8_t tag, const char* name, std::size_t max, Bytes* out) {
    Tlv tlv;
    SIMKMS_RETURN_IF_ERROR(Next(&tlv));
    if (tlv.tag != tag) return Fail(std::string("expected ") + name);
    if (tlv.value.empty() || tlv.value.size() > max) return Fail(std::string(name) + " has a bad length");
    out->assign(tlv.value.begin(), tlv.value.end());
    return OkStatus();
  }

  Status Byte(uint8_t tag, const char* name, uint8_t* out) {
    std::array<uint8_t, 1> b{};
    SIMKMS_RETURN_IF_ERROR(Fixed(tag, name, &b));
    *out = b[0];
    return OkStatus();
  }

  Status End() { return AtEnd() ? OkStatus() : Fail("unexpected trailing data or unknown tag"); }
  Status Fail(const std::string& what) const { return InvalidArgumentError(std::string(message_) + ": " + what); }

 private:
  const char* message_;
  ByteView data_;
  std::size_t pos_ = 0;
};

Bytes Start(uint8_t type) { return Bytes{type, kProtocolVersion}; }

struct EncodeVisitor {
  Bytes operator()(const Hello& m) const {
    Bytes out = Start(kTypeHello);
    PutByte(out, kTagKind, static_cast<uint8_t>(m.kind));
    std::array<uint8_t, 8> ver{};
    for (int i = 0; i < 4; ++i) ver[4 + i] = static_cast<uint8_t>(m.ver >> (24 - 8 * i));
    PutTlv(out, kTagVer, ver);
    PutTlv(out, kTagIccid, m.iccid);
    PutTlv(out, kTagNonceC, m.nonce_c);
    PutTlv(out, kTagYc, m.y_c);
    if (m.resync_proof) PutTlv(out, kTagResync, *m.resync_proof);
    return out;
  }
  Bytes operator()(const Challenge& m) const {
    Bytes out = Start(kTypeChallenge);
    PutTlv(out, kTagSessionId, m.session_id);
    PutTlv(out, kTagNonceS, m.nonce_s);
    PutTlv(out, kTagYs, m.y_s);
    PutTlv(out, kTagRand, m.rand);
    PutByte(out, kTagActivationRequired, m.activation_required ? 1 : 0);
    return out;
  }
  Bytes operator()(const Confirm& m) const {
    Bytes out = Start(kTypeConfirm);
    PutTlv(out, kTagSessionId, m.session_id);
    PutTlv(out, kTagRes, m.res);
    if (m.activation_proof) PutTlv(out, kTagActivationProof, *m.activation_proof);
    return out;
  }
  Bytes operator()(const Commit& m) const {
    Bytes out = Start(kTypeCommit);
    PutTlv(out, kTagSessionId, m.session_id);
    PutTlv(out, kTagCommitMac, m.commit_mac);
    PutTlv(out, kTagOpc, m.opc);
    return out;
  }
  Bytes operator()(const Error& m) const {
    Bytes out = Start(kTypeError);
    if (m.session_id) PutTlv(out, kTagSessionId, *m.session_id);
    PutByte(out, kTagErrorCode, static_cast<uint8_t>(m.code));
    if (m.tries_left) PutByte(out, kTagTriesLeft, *m.tries_left);
    return out;
  }
};

StatusOr<Message> DecodeHello(Reader& r) {
  Hello m;
  uint8_t kind = 0;
  SIMKMS_RETURN_IF_ERROR(r.Byte(kTagKind, "kind", &kind));
  if (kind != 0x01 && kind != 0x02) return r.Fail("unknown session kind");
  m.kind = static_cast<SessionKind>(kind);
  std::array<uint8_t, 8> ver{};
  SIMKMS_RETURN_IF_ERROR(r.Fixed(kTagVer, "VER", &ver));
  if (ver[0] | ver[1] | ver[2] | ver[3]) return r.Fail("VER out of range");
  m.ver = uint32_t{ver[4]} << 24 | uint32_t{ver[5]} << 16 | uint32_t{ver[6]} << 8 | ver[7];
  SIMKMS_RETURN_IF_ERROR(r.Fixed(kTagIccid, "ICCID", &m.iccid));
  SIMKMS_RETURN_IF_ERROR(r.Fixed(kTagNonceC, "nonce_c", &m.nonce_c));
  SIMKMS_RETURN_IF_ERROR(r.Variable(kTagYc, "Y_c", kMaxDhValueSize, &m.y_c));
  if (r.Peek(kTagResync)) {
    ShortMac proof{};
    SIMKMS_RETURN_IF_ERROR(r.Fixed(kTagResync, "resync proof", &proof));
    m.resync_proof = proof;
  }
  SIMKMS_RETURN_IF_ERROR(r.End());
  return Message(std::move(m));
}

StatusOr<Message> DecodeChallenge(Reader& r) {
  Challenge m;
  SIMKMS_RETURN_IF_ERROR(r.Fixed(kTagSessionId, "session id", &m.session_id));
  SIMKMS_RETURN_IF_ERROR(r.Fixed(kTagNonceS, "nonce_s", &m.nonce_s));
  SIMKMS_RETURN_IF_ERROR(r.Variable(kTagYs, "Y_s", kMaxDhValueSize, &m.y_s));
  SIMKMS_RETURN_IF_ERROR(r.Fixed(kTagRand, "RAND", &m.rand));
  uint8_t required = 0;
  SIMKMS_RETURN_IF_ERROR(r.Byte(kTagActivationRequired, "activation required", &required));
  if (required > 1) return r.Fail("activation required must be 0 or 1");
  m.activation_required = required == 1;
  SIMKMS_RETURN_IF_ERROR(r.End());
  return Message(std::move(m));
}

StatusOr<Message> DecodeConfirm(Reader& r) {
  Confirm m;
  SIMKMS_RETURN_IF_ERROR(r.Fixed(kTagSessionId, "session id", &m.session_id));
  SIMKMS_RETURN_IF_ERROR(r.Fixed(kTagRes, "RES", &m.res));
  if (r.Peek(kTagActivationProof)) {
    ShortMac proof{};
    SIMKMS_RETURN_IF_ERROR(r.Fixed(kTagActivationProof, "activation proof", &proof));
    m.activation_proof = proof;
  }
  SIMKMS_RETURN_IF_ERROR(r.End());
  return Message(std::move(m));
}

StatusOr<Message> DecodeCommit(Reader& r) {
  Commit m;
  SIMKMS_RETURN_IF_ERROR(r.Fixed(kTagSessionId, "session id", &m.session_id));
  SIMKMS_RETURN_IF_ERROR(r.Fixed(kTagCommitMac, "commit MAC", &m.commit_mac));
  SIMKMS_RETURN_IF_ERROR(r.Fixed(kTagOpc, "OPc", &m.opc));
  SIMKMS_RETURN_IF_ERROR(r.End());
  return Message(std::move(m));
}

StatusOr<Message> DecodeError(Reader& r) {
  Error m;
  if (r.Peek(kTagSessionId)) {
    SessionId id{};
    SIMKMS_RETURN_IF_ERROR(r.Fixed(kTagSessionId, "session id", &id));
    m.session_id = id;
  }
  uint8_t code = 0;
  SIMKMS_RETURN_IF_ERROR(r.Byte(kTagErrorCode, "error code", &code));
  if (code < 0x01 || code > 0x07) return r.Fail("unknown error code");
  m.code = static_cast<ErrorCode>(code);
  if (r.Peek(kTagTriesLeft)) {
    uint8_t tries = 0;
    SIMKMS_RETURN_IF_ERROR(r.Byte(kTagTriesLeft, "tries left", &tries));
    m.tries_left = tries;
  }
  SIMKMS_RETURN_IF_ERROR(r.End());
  return Message(std::move(m));
}

}  // namespace

Bytes Encode(const Message& message) { return std::visit(EncodeVisitor{}, message); }

StatusOr<Message> Decode(ByteView data) {
  if (data.size() < 2) return InvalidArgumentError("protocol message shorter than its header");
  if (data[1] != kProtocolVersion) {
    return InvalidArgumentError("protocol version " + std::to_string(data[1]) + " is not supported");
  }
  ByteView body = data.subspan(2);
  switch (data[0]) {
    case kTypeHello: {
      Reader r("HELLO", body);
      return DecodeHello(r);
    }
    case kTypeChallenge: {
      Reader r("CHALLENGE", body);
      return DecodeChallenge(r);
    }
    case kTypeConfirm: {
      Reader r("CONFIRM", body);
      return DecodeConfirm(r);
    }
    case kTypeCommit: {
      Reader r("COMMIT", body);
      return DecodeCommit(r);
    }
    case kTypeError: {
      Reader r("ERROR", body);
      return DecodeError(r);
    }
    default:
      return InvalidArgumentError("unknown protocol message type " + std::to_string(data[0]));
  }
}

}  // namespace simkms::protocol
