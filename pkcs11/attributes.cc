#include "pkcs11/attributes.h"

#include <cstring>

namespace simkms::p11 {

// Setting a type twice replaces the first value (a template never carries one
// attribute twice), so a caller can start from a base template that names every
// usage attribute and then switch on the few a key needs.
Attributes& Attributes::Add(CK_ATTRIBUTE_TYPE type, const void* value, std::size_t size) {
  Storage& s = storage_.emplace_back(size);
  if (size > 0) std::memcpy(s.data(), value, size);
  const CK_ATTRIBUTE attribute{type, s.data(), static_cast<CK_ULONG>(size)};
  for (CK_ATTRIBUTE& existing : attrs_) {
    if (existing.type == type) {
      existing = attribute;  // the last value given wins; the old copy is wiped with the template
      return *this;
    }
  }
  attrs_.push_back(attribute);
  return *this;
}

Attributes& Attributes::Bool(CK_ATTRIBUTE_TYPE type, bool value) {
  CK_BBOOL b = value ? CK_TRUE : CK_FALSE;
  return Add(type, &b, sizeof b);
}

Attributes& Attributes::Ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value) { return Add(type, &value, sizeof value); }

Attributes& Attributes::Blob(CK_ATTRIBUTE_TYPE type, ByteView value) {
  return Add(type, value.data(), value.size());
}

Attributes& Attributes::Text(CK_ATTRIBUTE_TYPE type, std::string_view value) {
  return Add(type, value.data(), value.size());
}

Attributes& Attributes::Secret(CK_ATTRIBUTE_TYPE type, const SecretBytes& value) {
  return Add(type, value.reveal().data(), value.size());
}

}  // namespace simkms::p11
