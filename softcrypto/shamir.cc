#include "softcrypto/shamir.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cctype>
#include <cstring>
#include <optional>
#include <utility>

#include "base/wiped_buffer.h"

namespace simkms::kms::shamir {

namespace gf256 {

uint8_t Mul(uint8_t a, uint8_t b) {
  // Shift-and-add with masks instead of branches or log/exp tables, so timing and
  // memory access do not depend on the (secret) operands.
  unsigned r = 0;
  unsigned aa = a;
  unsigned bb = b;
  for (int i = 0; i < 8; ++i) {
    r ^= aa & (0u - (bb & 1u));
    bb >>= 1;
    const unsigned hi = (aa >> 7) & 1u;
    aa = ((aa << 1) ^ (0x1bu & (0u - hi))) & 0xffu;
  }
  return static_cast<uint8_t>(r);
}

uint8_t Inv(uint8_t a) {
  // a^254 = a^(2+4+...+128): a fixed square-and-multiply chain, same work for every a.
  uint8_t square = a;
  uint8_t result = 1;
  for (int i = 0; i < 7; ++i) {
    square = Mul(square, square);
    result = Mul(result, square);
  }
  return result;
}

}  // namespace gf256

namespace {

constexpr std::string_view kMagic1 = "SIMKMS";
constexpr std::string_view kMagic2 = "SHARE";
constexpr std::string_view kCheckDomain = "SIMKMS-SHARE";
constexpr std::string_view kSetIdDomain = "SIMKMS-SHARE-SET";
constexpr std::size_t kCeremonyIdSize = 16;
constexpr std::size_t kHexGroup = 4;        // hex digits per printed group
constexpr std::size_t kMaxTextSize = 1024;  // far above the longest share (64-byte secret)

std::string UpperHex(ByteView bytes) {
  std::string out = ToHex(bytes);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads look-alike letters the way a custodian most likely meant them. Only used on
// hex fields, where O, I and L can never be right; the check value then decides.
char NormalizeHexChar(char c) {
  switch (c) {
    case 'O': return '0';
    case 'I':
    case 'L': return '1';
    default: return c;
  }
}

// Decodes upper-case hex (after NormalizeHexChar) into `out`; false on a non-hex
// character or odd length.
bool DecodeHex(std::string_view hex, uint8_t* out) {
  if (hex.size() % 2 != 0) return false;
  for (std::size_t i = 0; i < hex.size() / 2; ++i) {
    const int hi = HexDigitValue(hex[2 * i]);
    const int lo = HexDigitValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

// Small non-negative decimal (at most 3 digits); nullopt otherwise.
std::optional<int> ParseSmallDecimal(std::string_view s) {
  if (s.empty() || s.size() > 3) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

Status Sha256(ByteView data, std::array<uint8_t, 32>& out) {
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 || len != out.size()) {
    return InternalError("SHA-256 failed");
  }
  return OkStatus();
}

Status ValidateParameters(int m, int n, std::size_t secret_size) {
  if (m < kMinThreshold || m > kMaxShares) {
    return InvalidArgumentError("threshold " + std::to_string(m) + " out of range [" + std::to_string(kMinThreshold) +
                                ", " + std::to_string(kMaxShares) + "]");
  }
  if (n < m || n > kMaxShares) {
    return InvalidArgumentError("share count " + std::to_string(n) + " out of range [threshold " + std::to_string(m) +
                                ", " + std::to_string(kMaxShares) + "]");
  }
  if (secret_size == 0 || secret_size > kMaxSecretSize) {
    return InvalidArgumentError("secret size " + std::to_string(secret_size) + " out of range [1, " +
                                std::to_string(kMaxSecretSize) + "]");
  }
  return OkStatus();
}

// First kCheckSize bytes of SHA-256("SIMKMS-SHARE" || version || M || N || x || set id || y).
Status ComputeCheck(const ShareInfo& info, ByteView set_id, const SecretBytes& y,
                    std::array<uint8_t, kCheckSize>& check) {
  SecretBytes input(kCheckDomain.size() + 4 + kSetIdSize + y.size());
  uint8_t* p = input.mutable_data();
  std::memcpy(p, kCheckDomain.data(), kCheckDomain.size());
  p += kCheckDomain.size();
  *p++ = static_cast<uint8_t>(info.version);
  *p++ = static_cast<uint8_t>(info.threshold);
  *p++ = static_cast<uint8_t>(info.share_count);
  *p++ = static_cast<uint8_t>(info.index);
  std::memcpy(p, set_id.data(), kSetIdSize);
  p += kSetIdSize;
  std::memcpy(p, y.reveal().data(), y.size());
  std::array<uint8_t, 32> digest{};
  SIMKMS_RETURN_IF_ERROR(Sha256(input.reveal(), digest));
  std::memcpy(check.data(), digest.data(), kCheckSize);
  return OkStatus();
}

StatusOr<Bytes> ParseSetIdHex(std::string_view set_id_hex) {
  if (set_id_hex.size() != 2 * kSetIdSize) {
    return InvalidArgumentError("set id must have " + std::to_string(2 * kSetIdSize) + " hex digits, got " +
                                std::to_string(set_id_hex.size()));
  }
  std::string upper;
  for (char c : set_id_hex) upper.push_back(NormalizeHexChar(static_cast<char>(std::toupper(static_cast<unsigned char>(c)))));
  Bytes out(kSetIdSize);
  if (!DecodeHex(upper, out.data())) return InvalidArgumentError("set id contains a character that is not a hex digit");
  return out;
}

// Lagrange interpolation at `t` through the points (xs[j], ys[j]), j < xs.size().
// xs are distinct, public; ys are secret and handled in constant time.
SecretBytes Interpolate(const std::vector<uint8_t>& xs, const std::vector<const SecretBytes*>& ys, uint8_t t,
                        std::size_t size) {
  SecretBytes out(size);
  uint8_t* o = out.mutable_data();
  for (std::size_t j = 0; j < xs.size(); ++j) {
    // l_j(t) = prod_{k != j} (t - x_k) / (x_j - x_k); subtraction is XOR in GF(2^8).
    uint8_t num = 1;
    uint8_t den = 1;
    for (std::size_t k = 0; k < xs.size(); ++k) {
      if (k == j) continue;
      num = gf256::Mul(num, static_cast<uint8_t>(t ^ xs[k]));
      den = gf256::Mul(den, static_cast<uint8_t>(xs[j] ^ xs[k]));
    }
    const uint8_t basis = gf256::Mul(num, gf256::Inv(den));
    ByteView y = ys[j]->reveal();
    for (std::size_t i = 0; i < size; ++i) o[i] ^= gf256::Mul(y[i], basis);
  }
  return out;
}

std::string Position(std::size_t i, std::size_t total) {
  return "share " + std::to_string(i + 1) + " of " + std::to_string(total);
}

}  // namespace

StatusOr<std::string> FormatShare(const ShareInfo& info, const SecretBytes& y) {
  if (info.version != kFormatVersion) {
    return InvalidArgumentError("cannot format share version " + std::to_string(info.version));
  }
  SIMKMS_RETURN_IF_ERROR(ValidateParameters(info.threshold, info.share_count, y.size()));
  if (info.secret_size != 0 && info.secret_size != y.size()) {
    return InvalidArgumentError("share has " + std::to_string(y.size()) + " bytes, info says " +
                                std::to_string(info.secret_size));
  }
  if (info.index < 1 || info.index > info.share_count) {
    return InvalidArgumentError("share index " + std::to_string(info.index) + " out of range [1, " +
                                std::to_string(info.share_count) + "]");
  }
  SIMKMS_ASSIGN_OR_RETURN(Bytes set_id, ParseSetIdHex(info.set_id_hex));
  std::array<uint8_t, kCheckSize> check{};
  SIMKMS_RETURN_IF_ERROR(ComputeCheck(info, set_id, y, check));

  std::string body = UpperHex(y.reveal());
  WipeOnExit wipe_body(body);
  std::string out;
  out.reserve(64 + body.size() * 5 / 4);
  out.append(kMagic1).append("-").append(kMagic2).append("-");
  out.append(std::to_string(info.version)).append("-");
  out.append(std::to_string(info.threshold)).append("OF").append(std::to_string(info.share_count)).append("-");
  out.append(std::to_string(info.index)).append("-");
  out.append(UpperHex(set_id)).append("-");
  for (std::size_t i = 0; i < body.size(); i += kHexGroup) {
    out.append(body, i, kHexGroup).append("-");
  }
  out.append(UpperHex(check));
  return out;
}

StatusOr<ParsedShare> ParseShare(std::string_view text) {
  if (text.size() > kMaxTextSize) {
    return InvalidArgumentError("share text is " + std::to_string(text.size()) + " characters, longer than any share");
  }
  // Canonical form: no whitespace, upper case, fields split on runs of '-'.
  std::string canon;
  WipeOnExit wipe_canon(canon);
  canon.reserve(text.size());
  for (char c : text) {
    const auto uc = static_cast<unsigned char>(c);
    if (std::isspace(uc)) continue;
    if (uc >= 0x80 || !std::isprint(uc)) {
      return InvalidArgumentError("share contains a character that is not printable ASCII");
    }
    canon.push_back(static_cast<char>(std::toupper(uc)));
  }
  std::vector<std::string_view> fields;
  {
    std::size_t i = 0;
    while (i < canon.size()) {
      while (i < canon.size() && canon[i] == '-') ++i;
      std::size_t j = i;
      while (j < canon.size() && canon[j] != '-') ++j;
      if (j > i) fields.push_back(std::string_view(canon).substr(i, j - i));
      i = j;
    }
  }
  // SIMKMS SHARE <version> <M>OF<N> <x> <set id> <group>... <check>
  if (fields.size() < 8) {
    return InvalidArgumentError("share is incomplete: expected SIMKMS-SHARE-<version>-<M>OF<N>-<index>-<set id>-"
                                "<share digits>-<check>, got " + std::to_string(fields.size()) + " fields");
  }
  if (fields[0] != kMagic1 || fields[1] != kMagic2) {
    return InvalidArgumentError("share does not start with SIMKMS-SHARE");
  }
  const std::optional<int> version = ParseSmallDecimal(fields[2]);
  if (!version) return InvalidArgumentError("share format version is not a number");
  if (*version != kFormatVersion) {
    return InvalidArgumentError("unsupported share format version " + std::to_string(*version) + " (this build reads " +
                                std::to_string(kFormatVersion) + ")");
  }
  const std::size_t of = fields[3].find("OF");
  if (of == std::string_view::npos) return InvalidArgumentError("threshold field must look like 3OF5");
  const std::optional<int> m = ParseSmallDecimal(fields[3].substr(0, of));
  const std::optional<int> n = ParseSmallDecimal(fields[3].substr(of + 2));
  if (!m || !n) return InvalidArgumentError("threshold field must look like 3OF5");
  const std::optional<int> x = ParseSmallDecimal(fields[4]);
  if (!x) return InvalidArgumentError("share index is not a number");
  if (*m < kMinThreshold || *m > kMaxShares || *n < *m || *n > kMaxShares) {
    return InvalidArgumentError("threshold " + std::to_string(*m) + " of " + std::to_string(*n) +
                                " is not a valid share set (need 2 <= M <= N <= 16)");
  }
  if (*x < 1 || *x > *n) {
    return InvalidArgumentError("share index " + std::to_string(*x) + " out of range [1, " + std::to_string(*n) + "]");
  }
  SIMKMS_ASSIGN_OR_RETURN(Bytes set_id, ParseSetIdHex(fields[5]));

  // The share digits: everything between the set id and the check value. Grouping is
  // only a reading aid, so the groups are concatenated; a group of unusual length is
  // remembered to tell the custodian where a digit was probably dropped or added.
  const std::size_t first_group = 6;
  const std::size_t last_group = fields.size() - 2;
  std::string digits;
  WipeOnExit wipe_digits(digits);
  std::optional<std::size_t> odd_group;
  for (std::size_t g = first_group; g <= last_group; ++g) {
    const bool is_last = g == last_group;
    const std::size_t len = fields[g].size();
    if (!odd_group && len != kHexGroup && !(is_last && len == 2)) odd_group = g - first_group + 1;
    for (char c : fields[g]) {
      const char h = NormalizeHexChar(c);
      if (HexDigitValue(h) < 0) {
        return InvalidArgumentError("digit group " + std::to_string(g - first_group + 1) +
                                    " contains a character that is not a hex digit");
      }
      digits.push_back(h);
    }
  }
  const std::string odd_hint =
      odd_group ? " (digit group " + std::to_string(*odd_group) + " does not have " + std::to_string(kHexGroup) +
                      " digits: one was probably dropped or added there)"
                : "";
  if (digits.size() % 2 != 0) {
    return InvalidArgumentError("share has an odd number of hex digits" + odd_hint);
  }
  if (digits.size() / 2 > kMaxSecretSize) {
    return InvalidArgumentError("share has " + std::to_string(digits.size() / 2) + " bytes, more than " +
                                std::to_string(kMaxSecretSize));
  }

  std::string_view check_field = fields.back();
  if (check_field.size() != 2 * kCheckSize) {
    return InvalidArgumentError("check value must have " + std::to_string(2 * kCheckSize) + " hex digits, got " +
                                std::to_string(check_field.size()));
  }
  std::string check_hex;
  for (char c : check_field) check_hex.push_back(NormalizeHexChar(c));
  std::array<uint8_t, kCheckSize> given_check{};
  if (!DecodeHex(check_hex, given_check.data())) {
    return InvalidArgumentError("check value contains a character that is not a hex digit");
  }

  ParsedShare share;
  share.info.version = *version;
  share.info.threshold = *m;
  share.info.share_count = *n;
  share.info.index = *x;
  share.info.set_id_hex = UpperHex(set_id);
  share.info.secret_size = digits.size() / 2;
  share.y = SecretBytes(digits.size() / 2);
  if (!DecodeHex(digits, share.y.mutable_data())) return InternalError("share digits failed to decode after checking");

  std::array<uint8_t, kCheckSize> expected_check{};
  SIMKMS_RETURN_IF_ERROR(ComputeCheck(share.info, set_id, share.y, expected_check));
  if (!ConstantTimeEquals(expected_check, given_check)) {
    return InvalidArgumentError("check value does not match: the share was mistyped; compare it with the printed "
                                "share character by character" + odd_hint);
  }
  return share;
}

StatusOr<ShareSet> Split(const SecretBytes& secret, int m, int n) {
  std::array<uint8_t, kCeremonyIdSize> ceremony_id{};
  if (RAND_bytes(ceremony_id.data(), static_cast<int>(ceremony_id.size())) != 1) {
    return InternalError("RAND_bytes failed drawing a ceremony id");
  }
  return Split(secret, m, n, ceremony_id);
}

StatusOr<ShareSet> Split(const SecretBytes& secret, int m, int n, ByteView ceremony_id) {
  SIMKMS_RETURN_IF_ERROR(ValidateParameters(m, n, secret.size()));
  if (ceremony_id.empty()) return InvalidArgumentError("ceremony id is empty");

  Bytes set_input(kSetIdDomain.begin(), kSetIdDomain.end());
  set_input.insert(set_input.end(), ceremony_id.begin(), ceremony_id.end());
  std::array<uint8_t, 32> digest{};
  SIMKMS_RETURN_IF_ERROR(Sha256(set_input, digest));
  const std::string set_id_hex = UpperHex(ByteView(digest.data(), kSetIdSize));

  const std::size_t size = secret.size();
  // coefficients[(k - 1) * size + i] is the coefficient of x^k of byte i's polynomial, k = 1..m-1;
  // the constant term is the secret byte itself.
  SecretBytes coefficients(static_cast<std::size_t>(m - 1) * size);
  if (RAND_priv_bytes(coefficients.mutable_data(), static_cast<int>(coefficients.size())) != 1) {
    return InternalError("RAND_priv_bytes failed drawing polynomial coefficients");
  }
  ByteView s = secret.reveal();
  ByteView c = coefficients.reveal();

  ShareSet set;
  set.set_id_hex = set_id_hex;
  set.threshold = m;
  for (int x = 1; x <= n; ++x) {
    SecretBytes y(size);
    uint8_t* out = y.mutable_data();
    for (std::size_t i = 0; i < size; ++i) {
      // Horner: a_{m-1}, then acc * x + a_k down to the secret byte.
      uint8_t acc = c[static_cast<std::size_t>(m - 2) * size + i];
      for (int k = m - 2; k >= 1; --k) {
        acc = static_cast<uint8_t>(gf256::Mul(acc, static_cast<uint8_t>(x)) ^ c[static_cast<std::size_t>(k - 1) * size + i]);
      }
      acc = static_cast<uint8_t>(gf256::Mul(acc, static_cast<uint8_t>(x)) ^ s[i]);
      out[i] = acc;
    }
    ShareInfo info;
    info.threshold = m;
    info.share_count = n;
    info.index = x;
    info.set_id_hex = set_id_hex;
    info.secret_size = size;
    SIMKMS_ASSIGN_OR_RETURN(std::string text, FormatShare(info, y));
    set.shares.push_back(std::move(text));
  }
  return set;
}

StatusOr<SecretBytes> Combine(const std::vector<std::string>& share_texts) {
  if (share_texts.empty()) return FailedPreconditionError("no shares given");
  const std::size_t total = share_texts.size();
  std::vector<ParsedShare> shares;
  shares.reserve(total);
  for (std::size_t i = 0; i < total; ++i) {
    StatusOr<ParsedShare> parsed = ParseShare(share_texts[i]);
    if (!parsed.ok()) return parsed.status().WithContext(Position(i, total));
    shares.push_back(std::move(parsed).value());
  }

  const ShareInfo& first = shares[0].info;
  for (std::size_t i = 1; i < total; ++i) {
    const ShareInfo& info = shares[i].info;
    if (info.set_id_hex != first.set_id_hex) {
      return InvalidArgumentError(Position(i, total) + " belongs to share set " + info.set_id_hex + ", share 1 to " +
                                  first.set_id_hex + ": shares of different ceremonies cannot be combined");
    }
    if (info.threshold != first.threshold || info.share_count != first.share_count) {
      return InvalidArgumentError(Position(i, total) + " says " + std::to_string(info.threshold) + " of " +
                                  std::to_string(info.share_count) + ", share 1 says " +
                                  std::to_string(first.threshold) + " of " + std::to_string(first.share_count) +
                                  " in the same set: one of them is not genuine");
    }
    if (info.secret_size != first.secret_size) {
      return InvalidArgumentError(Position(i, total) + " has " + std::to_string(info.secret_size) +
                                  " bytes, share 1 has " + std::to_string(first.secret_size) +
                                  ": one of them is not genuine");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (shares[j].info.index != info.index) continue;
      if (shares[j].y.Equals(shares[i].y)) {
        return InvalidArgumentError(Position(i, total) + " repeats index " + std::to_string(info.index) +
                                    " already given as share " + std::to_string(j + 1));
      }
      return InvalidArgumentError(Position(i, total) + " and share " + std::to_string(j + 1) + " both claim index " +
                                  std::to_string(info.index) + " with different content: one of them is not genuine");
    }
  }

  const std::size_t m = static_cast<std::size_t>(first.threshold);
  if (total < m) {
    return FailedPreconditionError("need " + std::to_string(m) + " shares, got " + std::to_string(total));
  }
  std::vector<uint8_t> xs;
  std::vector<const SecretBytes*> ys;
  for (std::size_t i = 0; i < m; ++i) {
    xs.push_back(static_cast<uint8_t>(shares[i].info.index));
    ys.push_back(&shares[i].y);
  }
  // Shares beyond the threshold must lie on the polynomial fixed by the first M; this
  // catches a genuine-looking but wrong share whenever a spare share is at hand.
  for (std::size_t i = m; i < total; ++i) {
    SecretBytes expected = Interpolate(xs, ys, static_cast<uint8_t>(shares[i].info.index), first.secret_size);
    if (!expected.Equals(shares[i].y)) {
      return InvalidArgumentError("shares are inconsistent: " + Position(i, total) +
                                  " does not agree with shares 1.." + std::to_string(m) +
                                  "; at least one share is not genuine although its check value matched");
    }
  }
  return Interpolate(xs, ys, 0, first.secret_size);
}

}  // namespace simkms::kms::shamir
