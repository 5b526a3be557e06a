#include "pkcs11/uri.h"

#include <p11-kit/uri.h>

#include <string_view>

namespace simkms::p11 {
namespace {

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

}  // namespace

StatusOr<TokenUri> TokenUri::Parse(const std::string& text) {
  std::shared_ptr<void> uri(p11_kit_uri_new(), [](void* p) { p11_kit_uri_free(static_cast<P11KitUri*>(p)); });
  if (!uri) return InternalError("p11_kit_uri_new failed");
  auto* raw = static_cast<P11KitUri*>(uri.get());
  int rc = p11_kit_uri_parse(text.c_str(), P11_KIT_URI_FOR_TOKEN, raw);
  if (rc != P11_KIT_URI_OK) {
    return InvalidArgumentError("bad PKCS#11 URI '" + text + "': " + p11_kit_uri_message(rc));
  }
  if (p11_kit_uri_get_pin_value(raw) != nullptr) {
    return InvalidArgumentError("PKCS#11 URI must not carry pin-value=; use a PIN file or environment variable");
  }
  const char* source = p11_kit_uri_get_pin_source(raw);
  return TokenUri(std::move(uri), text, source ? source : "");
}

TokenUri TokenUri::ForLabel(const std::string& label) {
  auto parsed = Parse("pkcs11:token=" + PercentEncode(label));
  // A percent-encoded label always parses.
  return std::move(parsed).value();
}

bool TokenUri::Matches(const CK_TOKEN_INFO& info) const {
  return p11_kit_uri_match_token_info(static_cast<const P11KitUri*>(uri_.get()), &info) == 1;
}

}  // namespace simkms::p11
