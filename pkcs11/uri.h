// RFC 7512 "pkcs11:" URIs selecting a token (token=, serial=, manufacturer=,
// model=). Parsing and matching are done by libp11-kit. PIN values inside the URI
// (pin-value=) are refused: a PIN comes from a file or the environment, never
// from a command line or config string.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "pkcs11/cryptoki.h"

namespace simkms::p11 {

class TokenUri {
 public:
  static StatusOr<TokenUri> Parse(const std::string& uri);
  // "pkcs11:token=<label>", for making a URI from a label.
  static TokenUri ForLabel(const std::string& label);

  bool Matches(const CK_TOKEN_INFO& info) const;
  const std::string& ToString() const { return text_; }
  // The pin-source= attribute (a file path), empty if absent.
  const std::string& pin_source() const { return pin_source_; }

 private:
  TokenUri(std::shared_ptr<void> uri, std::string text, std::string pin_source)
      : uri_(std::move(uri)), text_(std::move(text)), pin_source_(std::move(pin_source)) {}
  std::shared_ptr<void> uri_;  // P11KitUri*, freed with p11_kit_uri_free
  std::string text_;
  std::string pin_source_;
};

}  // namespace simkms::p11
