// Diffie-Hellman groups a VER can carry, and the checks on group parameters and
// peer public values that the chip side and the SC side both apply.
//
// A VER names one group: RFC 7919 ffdhe2048 (the default), ffdhe3072, NIST P-256,
// or an operator-supplied finite-field group (p, g) that is validated once, when
// the VER is created, with ValidateCustomGroup.
//
// Cost of ValidateCustomGroup (measured on the shared 2-core build host, OpenSSL
// 3.0.x; the bignum work is libcrypto's own code, so the plain -O2 build and the
// ASan/UBSan build time the same): a valid 2048-bit safe prime takes 0.2-0.3 s
// (mean 0.27 s over 10 runs), a 3072-bit one 1.2-1.9 s (mean 1.4 s). The two
// Miller-Rabin runs dominate (BN_check_prime: 64 rounds up to 2048 bits, 128
// above) and each round grows with the cube of the size, so 8192 bits extrapolates
// to about half a minute (not measured). That is fine when a VER is created and
// is why the check is not repeated per exchange. A composite p or q is refused
// within milliseconds (trial division or the first round).
#pragma once

#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace simkms::kms {

enum class DhGroupKind { kFfdhe2048, kFfdhe3072, kP256, kCustom };

inline constexpr DhGroupKind kDefaultDhGroup = DhGroupKind::kFfdhe2048;

// "ffdhe2048", "ffdhe3072", "p256", "custom".
[[nodiscard]] std::string_view DhGroupKindName(DhGroupKind kind);
// Exact lower-case names as above; InvalidArgument listing them otherwise.
[[nodiscard]] StatusOr<DhGroupKind> ParseDhGroupKind(std::string_view name);
// True for the finite-field kinds (ffdhe2048, ffdhe3072, custom).
[[nodiscard]] bool IsFiniteField(DhGroupKind kind);

// A finite-field group: big-endian, minimal-length (no leading zero bytes)
// unsigned integers. q = (p - 1) / 2 is the order of the subgroup g generates.
struct FfdhParams {
  Bytes p;
  Bytes g;
  Bytes q;
};

// The RFC 7919 parameters of kFfdhe2048 or kFfdhe3072, read from OpenSSL's built-in
// named groups (and cross-checked against the RFC text in the tests). Computed
// once and cached. InvalidArgument for kP256 and kCustom.
[[nodiscard]] StatusOr<FfdhParams> NamedFfdhParams(DhGroupKind kind);

// Validates an operator-supplied group; each failure is an InvalidArgument that
// names the condition:
//   p and g minimally encoded (no leading zero bytes);
//   2048 <= bits(p) <= 8192; p odd;
//   2 <= g <= p - 2;
//   p prime and q = (p - 1) / 2 prime (a safe prime; BN_check_prime);
//   g^q mod p == 1 (g generates the order-q subgroup, not the whole group).
// Slow: see the cost note at the top of this file.
[[nodiscard]] Status ValidateCustomGroup(ByteView p, ByteView g);

// ValidateCustomGroup, then returns the group with q filled in.
[[nodiscard]] StatusOr<FfdhParams> MakeCustomFfdhParams(ByteView p, ByteView g);

// Checks a peer's finite-field public value y:
//   y is encoded on exactly len(p) bytes (fixed length, leading zeros kept);
//   2 <= y <= p - 2.
// For a safe-prime group this range check is the whole of the partial public key
// validation of NIST SP 800-56A (RFC 7919 §5.1): every y in range has order q or
// 2q, and the full check y^q mod p == 1 (about 5x the cost of the exchange) adds
// at most one leaked bit. Custom groups are safe primes too, so the same rule holds.
[[nodiscard]] Status ValidateFfdhPublic(const FfdhParams& params, ByteView y);

// Checks a peer's P-256 public point: 65-byte uncompressed SEC1 encoding
// (0x04 || X || Y), coordinates below the field prime, on the curve, not the point
// at infinity. P-256 has cofactor 1, so on the curve means in the prime-order group.
[[nodiscard]] Status ValidateP256Public(ByteView point);

}  // namespace simkms::kms
