// A PKCS#11 session and the token operations simkms uses, each a thin wrapper
// that turns CK_RV into Status with the operation named.
//
// Threading: a Session is used by one thread at a time (PKCS#11 sessions are not
// re-entrant); SessionPool hands them out. Objects created in a session come back
// as ScopedObject, destroyed unless the caller Release()s them (token objects the
// caller means to keep), so an error path never leaks a key into the token.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "pkcs11/attributes.h"
#include "pkcs11/cryptoki.h"

namespace simkms::p11 {

class Module;

// Owns an object handle; C_DestroyObject on destruction unless released.
class ScopedObject {
 public:
  ScopedObject() = default;
  ScopedObject(CK_FUNCTION_LIST* f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h) : f_(f), session_(s), handle_(h) {}
  ~ScopedObject() { Reset(); }
  ScopedObject(ScopedObject&& o) noexcept { *this = std::move(o); }
  ScopedObject& operator=(ScopedObject&& o) noexcept;
  ScopedObject(const ScopedObject&) = delete;
  ScopedObject& operator=(const ScopedObject&) = delete;

  CK_OBJECT_HANDLE get() const { return handle_; }
  explicit operator bool() const { return handle_ != CK_INVALID_HANDLE; }
  // Keeps the object (a token object meant to persist); returns its handle.
  CK_OBJECT_HANDLE Release();
  void Reset();

 private:
  CK_FUNCTION_LIST* f_ = nullptr;
  CK_SESSION_HANDLE session_ = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE handle_ = CK_INVALID_HANDLE;
};

// An active C_FindObjects operation; C_FindObjectsFinal on destruction.
class FindOperation {
 public:
  ~FindOperation();
  FindOperation(FindOperation&& o) noexcept : f_(o.f_), session_(o.session_) { o.f_ = nullptr; }
  FindOperation(const FindOperation&) = delete;
  FindOperation& operator=(const FindOperation&) = delete;
  FindOperation& operator=(FindOperation&&) = delete;
  // Up to max handles; an empty result means the search is exhausted.
  StatusOr<std::vector<CK_OBJECT_HANDLE>> Next(std::size_t max);

 private:
  friend class Session;
  FindOperation(CK_FUNCTION_LIST* f, CK_SESSION_HANDLE s) : f_(f), session_(s) {}
  CK_FUNCTION_LIST* f_;
  CK_SESSION_HANDLE session_;
};

// An active multi-part encryption (C_EncryptInit + C_EncryptUpdate...). On
// SoftHSM this is ~5x faster than one C_EncryptInit per block, which is what
// Milenage's six chained AES blocks need. Finalised on destruction.
class EncryptOperation {
 public:
  ~EncryptOperation();
  EncryptOperation(EncryptOperation&& o) noexcept : f_(o.f_), session_(o.session_) { o.f_ = nullptr; }
  EncryptOperation(const EncryptOperation&) = delete;
  EncryptOperation& operator=(const EncryptOperation&) = delete;
  EncryptOperation& operator=(EncryptOperation&&) = delete;
  // Encrypts in.size() bytes into out (same size: block-aligned ECB input).
  Status Update(ByteView in, uint8_t* out);

 private:
  friend class Session;
  EncryptOperation(CK_FUNCTION_LIST* f, CK_SESSION_HANDLE s) : f_(f), session_(s) {}
  CK_FUNCTION_LIST* f_;
  CK_SESSION_HANDLE session_;
};

// A key pair just generated: both halves destroyed unless released.
struct KeyPair {
  ScopedObject public_key;
  ScopedObject private_key;
};

class Session {
 public:
  static StatusOr<Session> Open(std::shared_ptr<Module> module, CK_SLOT_ID slot, bool read_write = true);
  ~Session();
  Session(Session&& o) noexcept;
  Session& operator=(Session&& o) = delete;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  CK_SESSION_HANDLE handle() const { return handle_; }
  CK_FUNCTION_LIST* functions() const { return f_; }
  const std::shared_ptr<Module>& module() const { return module_; }
  CK_SLOT_ID slot() const { return slot_; }

  // Login state is per token and application: logging in on one session logs in all.
  Status Login(CK_USER_TYPE user, const SecretBytes& pin);
  Status Logout();
  Status InitPin(const SecretBytes& pin);  // as SO

  StatusOr<ScopedObject> GenerateKey(CK_MECHANISM mechanism, Attributes& attributes, std::string_view what);
  StatusOr<KeyPair> GenerateKeyPair(CK_MECHANISM mechanism, Attributes& public_attributes,
                                    Attributes& private_attributes, std::string_view what);
  StatusOr<ScopedObject> DeriveKey(CK_MECHANISM mechanism, CK_OBJECT_HANDLE base, Attributes& attributes,
                                   std::string_view what);
  StatusOr<ScopedObject> CreateObject(Attributes& attributes, std::string_view what);
  StatusOr<ScopedObject> UnwrapKey(CK_MECHANISM mechanism, CK_OBJECT_HANDLE unwrapping_key, ByteView wrapped,
                                   Attributes& attributes, std::string_view what);
  StatusOr<Bytes> WrapKey(CK_MECHANISM mechanism, CK_OBJECT_HANDLE wrapping_key, CK_OBJECT_HANDLE key,
                          std::string_view what);
  StatusOr<Bytes> Encrypt(CK_MECHANISM mechanism, CK_OBJECT_HANDLE key, ByteView data, std::string_view what);
  // Decrypted data may be secret (a PUK, an OP): it comes back as SecretBytes.
  StatusOr<SecretBytes> Decrypt(CK_MECHANISM mechanism, CK_OBJECT_HANDLE key, ByteView data, std::string_view what);
  StatusOr<Bytes> Sign(CK_MECHANISM mechanism, CK_OBJECT_HANDLE key, ByteView data, std::string_view what);
  // OK if the signature verifies, Unauthenticated if it does not.
  Status Verify(CK_MECHANISM mechanism, CK_OBJECT_HANDLE key, ByteView data, ByteView signature,
                std::string_view what);
  StatusOr<EncryptOperation> BeginEncrypt(CK_MECHANISM mechanism, CK_OBJECT_HANDLE key, std::string_view what);
  Status GenerateRandom(uint8_t* out, std::size_t size);

  StatusOr<FindOperation> BeginFind(Attributes& attributes);
  // All objects matching the template.
  StatusOr<std::vector<CK_OBJECT_HANDLE>> FindAll(Attributes& attributes);
  Status DestroyObject(CK_OBJECT_HANDLE object, std::string_view what);

  // One attribute's raw value; PermissionDenied (CKR_ATTRIBUTE_SENSITIVE) for a sensitive one.
  StatusOr<Bytes> GetAttribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type, std::string_view what);
  StatusOr<bool> GetBoolAttribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type, std::string_view what);
  Status SetAttributes(CK_OBJECT_HANDLE object, Attributes& attributes, std::string_view what);

 private:
  Session(std::shared_ptr<Module> module, CK_SLOT_ID slot, CK_SESSION_HANDLE handle);

  std::shared_ptr<Module> module_;
  CK_FUNCTION_LIST* f_;
  CK_SLOT_ID slot_;
  CK_SESSION_HANDLE handle_;
};

// Initialises (or re-initialises: destroys every object!) the token in a slot.
Status InitToken(Module& module, CK_SLOT_ID slot, const SecretBytes& so_pin, const std::string& label);

}  // namespace simkms::p11
