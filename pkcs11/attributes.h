// An owning CK_ATTRIBUTE template: values are copied into storage that lives as
// long as the template (and is wiped on release, since a template may hold a key
// value being imported).
#pragma once

#include <deque>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "pkcs11/cryptoki.h"

namespace simkms::p11 {

class Attributes {
 public:
  Attributes() = default;
  Attributes(const Attributes&) = delete;
  Attributes& operator=(const Attributes&) = delete;
  Attributes(Attributes&&) = default;
  Attributes& operator=(Attributes&&) = default;

  Attributes& Bool(CK_ATTRIBUTE_TYPE type, bool value);
  Attributes& Ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value);
  Attributes& Blob(CK_ATTRIBUTE_TYPE type, ByteView value);
  Attributes& Text(CK_ATTRIBUTE_TYPE type, std::string_view value);
  // For imports of a secret value: the copy is wiped when the template dies.
  Attributes& Secret(CK_ATTRIBUTE_TYPE type, const SecretBytes& value);

  CK_ATTRIBUTE* data() { return attrs_.data(); }
  CK_ULONG size() const { return static_cast<CK_ULONG>(attrs_.size()); }

 private:
  using Storage = std::vector<uint8_t, CleansingAllocator<uint8_t>>;
  Attributes& Add(CK_ATTRIBUTE_TYPE type, const void* value, std::size_t size);

  std::vector<CK_ATTRIBUTE> attrs_;
  std::deque<Storage> storage_;  // deque: stable element addresses on push_back
};

}  // namespace simkms::p11
