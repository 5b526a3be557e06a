// Shamir secret sharing over GF(2^8) for the key-ceremony backup KEK.
//
// The ceremony draws a random backup KEK, splits it into N shares of which any M
// recombine it (2 <= M <= N <= 16), and prints one share per custodian. Each byte
// of the secret is the constant term of its own random polynomial of degree M-1;
// share x (x = 1..N) holds the polynomials evaluated at x. Fewer than M shares
// carry no information about the secret at all (every secret is equally likely).
//
// Shares travel as text that custodians copy by hand, so the format carries a
// per-share check value (a typo is caught when the share is entered, naming it)
// and a set id (shares of two ceremonies cannot be mixed). docs/shamir.md has the
// format byte by byte with a worked example:
//
//   SIMKMS-SHARE-1-3OF5-2-809A648C-C70C-56A0-...-FF18-F80D0F
//   (magic, version, M OF N, index x, set id, 16 groups of 4 hex digits, check)
//
// What Combine CANNOT detect: a share that is well formed, carries the right set
// id and a matching check value, but holds the wrong bytes (a forged share, or a
// share re-typed together with a recomputed check). With exactly M shares any
// such share silently yields a different secret. The caller (the ceremony
// restore) therefore MUST verify the combined key against the KCV of the backup
// KEK stored at ceremony time before using it. When more than M shares are
// given, Combine checks that the extra shares lie on the same polynomial and
// refuses an inconsistent set.
//
// Arithmetic is constant time in the secret (no secret-indexed table lookups,
// no secret-dependent branches); share x-coordinates are public.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace simkms::kms::shamir {

inline constexpr int kMinThreshold = 2;
inline constexpr int kMaxShares = 16;
inline constexpr std::size_t kMaxSecretSize = 64;
inline constexpr int kFormatVersion = 1;
inline constexpr std::size_t kSetIdSize = 4;   // bytes, printed as 8 hex digits
inline constexpr std::size_t kCheckSize = 3;   // bytes, printed as 6 hex digits

// The output of a split: what the ceremony prints, one share per custodian.
struct ShareSet {
  std::string set_id_hex;           // 8 upper-case hex digits, also printed on each share
  int threshold = 0;                // M
  std::vector<std::string> shares;  // shares[i] has index x = i + 1; size() == N
};

// Public metadata of one share (everything except the share bytes).
struct ShareInfo {
  int version = kFormatVersion;
  int threshold = 0;        // M
  int share_count = 0;      // N
  int index = 0;            // x, 1..N
  std::string set_id_hex;   // 8 upper-case hex digits
  std::size_t secret_size = 0;
};

struct ParsedShare {
  ShareInfo info;
  SecretBytes y;  // the polynomials evaluated at info.index, one byte per secret byte
};

// Splits `secret` (1..64 bytes) into n shares with threshold m
// (2 <= m <= n <= 16). The set id is the first 4 bytes of
// SHA-256("SIMKMS-SHARE-SET" || ceremony_id); the first overload draws a
// random 16-byte ceremony id. Polynomial coefficients come from RAND_priv_bytes.
[[nodiscard]] StatusOr<ShareSet> Split(const SecretBytes& secret, int m, int n);
[[nodiscard]] StatusOr<ShareSet> Split(const SecretBytes& secret, int m, int n, ByteView ceremony_id);

// Recombines the secret from share texts as typed by custodians.
//  - InvalidArgument naming the position ("share 2 of 3: ...") for a malformed
//    share or a bad check value (a typo), a share of another set, threshold or
//    size, and for duplicate indices;
//  - FailedPrecondition "need M shares, got K" when fewer than M distinct shares;
//  - InvalidArgument when more than M shares are given and they are inconsistent.
// Error messages carry positions, indices and set ids, never share bytes.
[[nodiscard]] StatusOr<SecretBytes> Combine(const std::vector<std::string>& share_texts);

// Parses and verifies one share (check value included). Tolerant of what people
// type: whitespace anywhere is ignored, case is ignored, runs of '-' and blanks
// separate fields, and in hex fields O reads as 0 and I or L as 1 (the check value
// still has to match, so a wrong guess cannot slip through). Meant for the restore
// UI to validate each share the moment it is typed.
[[nodiscard]] StatusOr<ParsedShare> ParseShare(std::string_view text);

// Encodes a share in the canonical printed form. Used by Split; public for the
// tools that reprint a share and for tests that need a well-formed forged share.
[[nodiscard]] StatusOr<std::string> FormatShare(const ShareInfo& info, const SecretBytes& y);

// GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1, constant time.
// Public so the field axioms can be tested.
namespace gf256 {
[[nodiscard]] uint8_t Mul(uint8_t a, uint8_t b);
// a^254, which is a^-1 for a != 0; Inv(0) == 0.
[[nodiscard]] uint8_t Inv(uint8_t a);
}  // namespace gf256

}  // namespace simkms::kms::shamir
