#include "pkcs11/attributes.h"

#include <cstring>

namespace simkms::p11 {

Attributes& Attributes::Add(CK_ATTRIBUTE_TYPE type, const void* value, std::size_t size) {
  Storage& s = storage_.emplace_back(size);
  if (size > 0) std::memcpy(s.data(), value, size);
  attrs_.push_back(CK_ATTRIBUTE{type, s.data(), static_cast<CK_ULONG>(size)});
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
