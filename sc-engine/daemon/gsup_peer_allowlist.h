// Which GSUP peers the AuC serves (docs/gsup.md §8.1, docs/operations.md).
// GSUP has no cryptographic peer authentication: the operator lists the
// source networks of its MSCs/SGSNs and the IPA names (CCM SERNR) they
// announce, and kmsd refuses every other peer at identification. This is
// admission control, not authentication: whoever can send from a listed
// address can claim a listed name, which is why the network path must be
// protected (a private VLAN, IPsec, WireGuard).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace simkms::daemon {

// One rule: a source prefix ("10.20.0.0/24", "fd00:1::5/128", a bare address
// meaning the host) and the IPA names allowed from it. A name ending in '*'
// matches every name starting with what precedes it; "*" alone matches any.
struct GsupPeerRule {
  std::string address;              // as configured, for messages
  std::vector<std::string> names;   // at least one
};

class GsupPeerAllowlist {
 public:
  // InvalidArgument naming the rule for a bad prefix (not an IP literal, a
  // length over 32/128), an empty name list, or an empty name.
  static StatusOr<GsupPeerAllowlist> Create(const std::vector<GsupPeerRule>& rules);

  // `address`: the peer's IP in text form as the socket reports it (IPv4, IPv6,
  // or IPv4-mapped IPv6, which is compared as IPv4).
  bool AdmitsAddress(const std::string& address) const;
  bool Admits(const std::string& address, const std::string& ipa_name) const;

 private:
  struct Prefix {
    bool v6 = false;
    std::array<uint8_t, 16> bytes{};  // network byte order; IPv4 in the first 4
    unsigned length = 0;
    std::vector<std::string> names;
  };
  static bool Contains(const Prefix& p, bool v6, const std::array<uint8_t, 16>& addr);
  static bool NameMatches(const std::string& pattern, const std::string& name);

  std::vector<Prefix> prefixes_;
};

}  // namespace simkms::daemon
