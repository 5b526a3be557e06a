// The first-call protocol's messages (docs/protocol.md §4): the secured data of
// one TS 102 225 packet each. Decode validates every length and refuses unknown
// tags, so a decoded message is well-formed; group-specific checks of DH values
// (range, curve) are the caller's (softcrypto/dh_group.h).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <variant>

#include "base/bytes.h"
#include "base/status.h"

namespace simkms::protocol {

inline constexpr uint8_t kProtocolVersion = 0x01;
inline constexpr std::size_t kMaxDhValueSize = 1024;  // 8192-bit groups

using Nonce = std::array<uint8_t, 16>;
using SessionId = std::array<uint8_t, 8>;
using Rand = std::array<uint8_t, 16>;
using Res = std::array<uint8_t, 8>;
using ShortMac = std::array<uint8_t, 8>;
using Iccid = std::array<uint8_t, 10>;
using Opc = std::array<uint8_t, 16>;

enum class SessionKind : uint8_t { kFirstCall = 0x01, kRekey = 0x02 };

enum class ErrorCode : uint8_t {
  kUnknownSession = 0x01,
  kBadDhValue = 0x02,
  kWrongRes = 0x03,
  kWrongActivationCode = 0x04,
  kLocked = 0x05,
  kStateForbids = 0x06,
  kInternal = 0x07,
};

struct Hello {
  SessionKind kind = SessionKind::kFirstCall;
  uint32_t ver = 0;
  Iccid iccid{};
  Nonce nonce_c{};
  Bytes y_c;
  std::optional<ShortMac> resync_proof;
  bool operator==(const Hello&) const = default;
};

struct Challenge {
  SessionId session_id{};
  Nonce nonce_s{};
  Bytes y_s;
  Rand rand{};
  bool activation_required = false;
  bool operator==(const Challenge&) const = default;
};

struct Confirm {
  SessionId session_id{};
  Res res{};
  std::optional<ShortMac> activation_proof;
  bool operator==(const Confirm&) const = default;
};

// Carries the OPc of the committed Ki_2 (OP xor AES_Ki_2(OP)): the chip keeps
// no OP (docs/protocol.md §2), so it learns the new key's OPc here, ciphered by
// the secured packet, and only once the SC has verified the chip's CONFIRM.
struct Commit {
  SessionId session_id{};
  ShortMac commit_mac{};
  Opc opc{};
  bool operator==(const Commit&) const = default;
};

struct Error {
  std::optional<SessionId> session_id;
  ErrorCode code = ErrorCode::kInternal;
  std::optional<uint8_t> tries_left;
  bool operator==(const Error&) const = default;
};

using Message = std::variant<Hello, Challenge, Confirm, Commit, Error>;

Bytes Encode(const Message& message);
// InvalidArgument naming the problem ("HELLO: nonce_c must be 16 bytes").
StatusOr<Message> Decode(ByteView data);

}  // namespace simkms::protocol
