#include "sc-engine/daemon/gsup_peer_allowlist.h"

#include <arpa/inet.h>

#include <cstring>
#include <string_view>

namespace simkms::daemon {
namespace {

// Parses an IPv4 or IPv6 literal; an IPv4-mapped IPv6 address counts as IPv4
// (a dual-stack listener reports IPv4 peers that way).
bool ParseAddress(const std::string& text, bool& v6, std::array<uint8_t, 16>& out) {
  out.fill(0);
  in_addr a4{};
  if (inet_pton(AF_INET, text.c_str(), &a4) == 1) {
    v6 = false;
    std::memcpy(out.data(), &a4, 4);
    return true;
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, text.c_str(), &a6) != 1) return false;
  if (IN6_IS_ADDR_V4MAPPED(&a6)) {
    v6 = false;
    std::memcpy(out.data(), a6.s6_addr + 12, 4);
    return true;
  }
  v6 = true;
  std::memcpy(out.data(), a6.s6_addr, 16);
  return true;
}

}  // namespace

StatusOr<GsupPeerAllowlist> GsupPeerAllowlist::Create(const std::vector<GsupPeerRule>& rules) {
  GsupPeerAllowlist list;
  for (const GsupPeerRule& rule : rules) {
    const std::string where = "gsup.peers '" + rule.address + "'";
    Prefix p;
    const std::size_t slash = rule.address.find('/');
    const std::string host = rule.address.substr(0, slash);
    if (!ParseAddress(host, p.v6, p.bytes)) return InvalidArgumentError(where + ": not an IP address or prefix");
    const unsigned max_length = p.v6 ? 128 : 32;
    p.length = max_length;
    if (slash != std::string::npos) {
      const std::string len = rule.address.substr(slash + 1);
      if (len.empty() || len.size() > 3 || len.find_first_not_of("0123456789") != std::string::npos ||
          std::stoul(len) > max_length) {
        return InvalidArgumentError(where + ": prefix length must be 0.." + std::to_string(max_length));
      }
      p.length = static_cast<unsigned>(std::stoul(len));
    }
    if (rule.names.empty()) return InvalidArgumentError(where + ": names is empty (use [\"*\"] for any name)");
    for (const std::string& name : rule.names) {
      if (name.empty()) return InvalidArgumentError(where + ": an empty name");
    }
    p.names = rule.names;
    list.prefixes_.push_back(std::move(p));
  }
  return list;
}

bool GsupPeerAllowlist::Contains(const Prefix& p, bool v6, const std::array<uint8_t, 16>& addr) {
  if (p.v6 != v6) return false;
  const unsigned full = p.length / 8, rest = p.length % 8;
  if (std::memcmp(p.bytes.data(), addr.data(), full) != 0) return false;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (p.bytes[full] & mask) == (addr[full] & mask);
}

bool GsupPeerAllowlist::NameMatches(const std::string& pattern, const std::string& name) {
  if (!pattern.empty() && pattern.back() == '*') {
    const std::string_view stem(pattern.data(), pattern.size() - 1);
    return std::string_view(name).substr(0, stem.size()) == stem;
  }
  return pattern == name;
}

bool GsupPeerAllowlist::AdmitsAddress(const std::string& address) const {
  bool v6 = false;
  std::array<uint8_t, 16> addr{};
  if (!ParseAddress(address, v6, addr)) return false;
  for (const Prefix& p : prefixes_) {
    if (Contains(p, v6, addr)) return true;
  }
  return false;
}

bool GsupPeerAllowlist::Admits(const std::string& address, const std::string& ipa_name) const {
  bool v6 = false;
  std::array<uint8_t, 16> addr{};
  if (!ParseAddress(address, v6, addr)) return false;
  for (const Prefix& p : prefixes_) {
    if (!Contains(p, v6, addr)) continue;
    for (const std::string& pattern : p.names) {
      if (NameMatches(pattern, ipa_name)) return true;
    }
  }
  return false;
}

}  // namespace simkms::daemon
