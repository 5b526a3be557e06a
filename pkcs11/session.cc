#include "pkcs11/session.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <type_traits>

#include "base/secret_array.h"
#include "pkcs11/error.h"
#include "pkcs11/secret_attribute.h"
#include "pkcs11/module.h"

namespace simkms::p11 {
namespace {

std::string Op(std::string_view fn, std::string_view what) {
  std::string s(fn);
  if (!what.empty()) {
    s += "(";
    s += what;
    s += ")";
  }
  return s;
}

CK_BYTE_PTR Mutable(ByteView v) { return const_cast<CK_BYTE_PTR>(v.data()); }

// The output buffer of a first C_GetAttributeValue or C_WrapKey: large enough for
// what simkms reads and wraps, so that the length query (a second token call, a
// round trip to a network HSM) is needed only for larger values.
constexpr std::size_t kFirstTryBufferSize = 512;

}  // namespace

ScopedObject& ScopedObject::operator=(ScopedObject&& o) noexcept {
  if (this != &o) {
    Reset();
    f_ = o.f_;
    session_ = o.session_;
    handle_ = o.handle_;
    o.handle_ = CK_INVALID_HANDLE;
  }
  return *this;
}

CK_OBJECT_HANDLE ScopedObject::Release() {
  CK_OBJECT_HANDLE h = handle_;
  handle_ = CK_INVALID_HANDLE;
  return h;
}

void ScopedObject::Reset() {
  if (handle_ != CK_INVALID_HANDLE && f_ != nullptr) f_->C_DestroyObject(session_, handle_);
  handle_ = CK_INVALID_HANDLE;
}

FindOperation::~FindOperation() {
  if (f_ != nullptr) f_->C_FindObjectsFinal(session_);
}

StatusOr<std::vector<CK_OBJECT_HANDLE>> FindOperation::Next(std::size_t max) {
  std::vector<CK_OBJECT_HANDLE> out(max);
  CK_ULONG count = 0;
  SIMKMS_RETURN_IF_ERROR(CkStatus(f_->C_FindObjects(session_, out.data(), max, &count), "C_FindObjects"));
  out.resize(count);
  return out;
}

EncryptOperation::~EncryptOperation() {
  if (f_ == nullptr) return;
  // Block-aligned ECB leaves nothing to flush; C_EncryptFinal ends the operation.
  SecretArray<64> scratch;
  CK_ULONG len = scratch.size();
  f_->C_EncryptFinal(session_, scratch.mutable_data(), &len);
}

Status EncryptOperation::Update(ByteView in, uint8_t* out) {
  CK_ULONG out_len = in.size();
  CK_RV rv = f_->C_EncryptUpdate(session_, Mutable(in), in.size(), out, &out_len);
  if (rv != CKR_OK) {
    f_ = nullptr;  // an error terminates the operation in the token
    return CkStatus(rv, "C_EncryptUpdate");
  }
  if (out_len != in.size()) return InternalError("C_EncryptUpdate returned " + std::to_string(out_len) + " bytes");
  return OkStatus();
}

Session::Session(std::shared_ptr<Module> module, CK_SLOT_ID slot, CK_SESSION_HANDLE handle)
    : module_(std::move(module)), f_(module_->functions()), slot_(slot), handle_(handle) {}

StatusOr<Session> Session::Open(std::shared_ptr<Module> module, CK_SLOT_ID slot, bool read_write) {
  CK_FLAGS flags = CKF_SERIAL_SESSION | (read_write ? CKF_RW_SESSION : 0);
  CK_SESSION_HANDLE handle = CK_INVALID_HANDLE;
  SIMKMS_RETURN_IF_ERROR(CkStatus(module->functions()->C_OpenSession(slot, flags, nullptr, nullptr, &handle),
                                  "C_OpenSession(slot " + std::to_string(slot) + ")"));
  return Session(std::move(module), slot, handle);
}

Session::Session(Session&& o) noexcept
    : module_(std::move(o.module_)), f_(o.f_), slot_(o.slot_), handle_(o.handle_) {
  o.handle_ = CK_INVALID_HANDLE;
}

Session::~Session() {
  if (handle_ != CK_INVALID_HANDLE) f_->C_CloseSession(handle_);
}

Status Session::Login(CK_USER_TYPE user, const SecretBytes& pin) {
  CK_RV rv = f_->C_Login(handle_, user, Mutable(pin.reveal()), pin.size());
  if (rv == CKR_USER_ALREADY_LOGGED_IN) return OkStatus();
  return CkStatus(rv, user == CKU_SO ? "C_Login(SO)" : "C_Login(user)");
}

Status Session::Logout() { return CkStatus(f_->C_Logout(handle_), "C_Logout"); }

Status Session::InitPin(const SecretBytes& pin) {
  return CkStatus(f_->C_InitPIN(handle_, Mutable(pin.reveal()), pin.size()), "C_InitPIN");
}

namespace {

// Whether a template asks for a token (persistent) object: CKA_TOKEN=TRUE.
bool MakesTokenObject(Attributes& a) {
  for (CK_ULONG i = 0; i < a.size(); ++i) {
    const CK_ATTRIBUTE& attr = a.data()[i];
    if (attr.type == CKA_TOKEN && attr.ulValueLen == sizeof(CK_BBOOL) &&
        *static_cast<const CK_BBOOL*>(attr.pValue) == CK_TRUE) {
      return true;
    }
  }
  return false;
}

// Module::token_object_lock() held exclusively while a token object is created.
std::unique_lock<std::shared_mutex> LockIfTokenObject(const Module& module, Attributes& a) {
  std::unique_lock<std::shared_mutex> lock(module.token_object_lock(), std::defer_lock);
  if (MakesTokenObject(a)) lock.lock();
  return lock;
}

}  // namespace

StatusOr<ScopedObject> Session::GenerateKey(CK_MECHANISM mechanism, Attributes& a, std::string_view what) {
  auto lock = LockIfTokenObject(*module_, a);
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  SIMKMS_RETURN_IF_ERROR(CkStatus(f_->C_GenerateKey(handle_, &mechanism, a.data(), a.size(), &h),
                                  Op("C_GenerateKey", what)));
  return ScopedObject(f_, handle_, h);
}

StatusOr<KeyPair> Session::GenerateKeyPair(CK_MECHANISM mechanism, Attributes& pub, Attributes& priv,
                                           std::string_view what) {
  std::unique_lock<std::shared_mutex> lock(module_->token_object_lock(), std::defer_lock);
  if (MakesTokenObject(pub) || MakesTokenObject(priv)) lock.lock();
  CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE hpriv = CK_INVALID_HANDLE;
  SIMKMS_RETURN_IF_ERROR(CkStatus(
      f_->C_GenerateKeyPair(handle_, &mechanism, pub.data(), pub.size(), priv.data(), priv.size(), &hpub, &hpriv),
      Op("C_GenerateKeyPair", what)));
  return KeyPair{ScopedObject(f_, handle_, hpub), ScopedObject(f_, handle_, hpriv)};
}

StatusOr<ScopedObject> Session::DeriveKey(CK_MECHANISM mechanism, CK_OBJECT_HANDLE base, Attributes& a,
                                          std::string_view what) {
  auto lock = LockIfTokenObject(*module_, a);
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  SIMKMS_RETURN_IF_ERROR(
      CkStatus(f_->C_DeriveKey(handle_, &mechanism, base, a.data(), a.size(), &h), Op("C_DeriveKey", what)));
  return ScopedObject(f_, handle_, h);
}

StatusOr<ScopedObject> Session::CreateObject(Attributes& a, std::string_view what) {
  auto lock = LockIfTokenObject(*module_, a);
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  SIMKMS_RETURN_IF_ERROR(CkStatus(f_->C_CreateObject(handle_, a.data(), a.size(), &h), Op("C_CreateObject", what)));
  return ScopedObject(f_, handle_, h);
}

StatusOr<ScopedObject> Session::UnwrapKey(CK_MECHANISM mechanism, CK_OBJECT_HANDLE unwrapping_key, ByteView wrapped,
                                          Attributes& a, std::string_view what) {
  auto lock = LockIfTokenObject(*module_, a);
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  SIMKMS_RETURN_IF_ERROR(CkStatus(f_->C_UnwrapKey(handle_, &mechanism, unwrapping_key, Mutable(wrapped),
                                                  wrapped.size(), a.data(), a.size(), &h),
                                  Op("C_UnwrapKey", what)));
  return ScopedObject(f_, handle_, h);
}

StatusOr<Bytes> Session::WrapKey(CK_MECHANISM mechanism, CK_OBJECT_HANDLE wrapping_key, CK_OBJECT_HANDLE key,
                                 std::string_view what) {
  // One call with a buffer that fits every wrap simkms makes; the length query
  // only if the module says it is too small (PKCS#11 2.40 §5.2: *pulWrappedKeyLen
  // then holds the length needed).
  Bytes out(kFirstTryBufferSize);
  CK_ULONG len = out.size();
  CK_RV rv = f_->C_WrapKey(handle_, &mechanism, wrapping_key, key, out.data(), &len);
  if (rv == CKR_BUFFER_TOO_SMALL) {
    SIMKMS_RETURN_IF_ERROR(
        CkStatus(f_->C_WrapKey(handle_, &mechanism, wrapping_key, key, nullptr, &len), Op("C_WrapKey", what)));
    out.resize(len);
    rv = f_->C_WrapKey(handle_, &mechanism, wrapping_key, key, out.data(), &len);
  }
  if (rv == CKR_BUFFER_TOO_SMALL) {
    // NSS's softoken answers the length query of CKM_AES_KEY_WRAP_KWP with the key's
    // own length, 8 bytes short of the RFC 5649 output, and leaves it so with
    // CKR_BUFFER_TOO_SMALL: ask once more with room for the integrity block and a
    // padding block.
    len = std::max<CK_ULONG>(len, out.size()) + 16;
    out.resize(len);
    rv = f_->C_WrapKey(handle_, &mechanism, wrapping_key, key, out.data(), &len);
  }
  SIMKMS_RETURN_IF_ERROR(CkStatus(rv, Op("C_WrapKey", what)));
  out.resize(len);
  return out;
}

StatusOr<Bytes> Session::Encrypt(CK_MECHANISM mechanism, CK_OBJECT_HANDLE key, ByteView data, std::string_view what) {
  SIMKMS_RETURN_IF_ERROR(CkStatus(f_->C_EncryptInit(handle_, &mechanism, key), Op("C_EncryptInit", what)));
  // Output of the modes we use is at most one block plus a tag longer than the input.
  CK_ULONG len = data.size() + 64;
  Bytes out(len);
  SIMKMS_RETURN_IF_ERROR(
      CkStatus(f_->C_Encrypt(handle_, Mutable(data), data.size(), out.data(), &len), Op("C_Encrypt", what)));
  out.resize(len);
  return out;
}

StatusOr<SecretBytes> Session::Decrypt(CK_MECHANISM mechanism, CK_OBJECT_HANDLE key, ByteView data,
                                       std::string_view what) {
  SIMKMS_RETURN_IF_ERROR(CkStatus(f_->C_DecryptInit(handle_, &mechanism, key), Op("C_DecryptInit", what)));
  CK_ULONG len = data.size() + 64;
  SecretBytes out(len);
  SIMKMS_RETURN_IF_ERROR(
      CkStatus(f_->C_Decrypt(handle_, Mutable(data), data.size(), out.mutable_data(), &len), Op("C_Decrypt", what)));
  out.resize(len);
  return out;
}

StatusOr<Bytes> Session::Sign(CK_MECHANISM mechanism, CK_OBJECT_HANDLE key, ByteView data, std::string_view what) {
  SIMKMS_RETURN_IF_ERROR(CkStatus(f_->C_SignInit(handle_, &mechanism, key), Op("C_SignInit", what)));
  CK_ULONG len = 64;
  Bytes out(len);
  SIMKMS_RETURN_IF_ERROR(
      CkStatus(f_->C_Sign(handle_, Mutable(data), data.size(), out.data(), &len), Op("C_Sign", what)));
  out.resize(len);
  return out;
}

Status Session::Verify(CK_MECHANISM mechanism, CK_OBJECT_HANDLE key, ByteView data, ByteView signature,
                       std::string_view what) {
  SIMKMS_RETURN_IF_ERROR(CkStatus(f_->C_VerifyInit(handle_, &mechanism, key), Op("C_VerifyInit", what)));
  return CkStatus(f_->C_Verify(handle_, Mutable(data), data.size(), Mutable(signature), signature.size()),
                  Op("C_Verify", what));
}

StatusOr<EncryptOperation> Session::BeginEncrypt(CK_MECHANISM mechanism, CK_OBJECT_HANDLE key,
                                                 std::string_view what) {
  SIMKMS_RETURN_IF_ERROR(CkStatus(f_->C_EncryptInit(handle_, &mechanism, key), Op("C_EncryptInit", what)));
  return EncryptOperation(f_, handle_);
}

Status Session::GenerateRandom(uint8_t* out, std::size_t size) {
  return CkStatus(f_->C_GenerateRandom(handle_, out, size), "C_GenerateRandom");
}

StatusOr<FindOperation> Session::BeginFind(Attributes& a) {
  // C_FindObjectsInit is where SoftHSM reads every object (Module::token_object_lock).
  std::shared_lock<std::shared_mutex> lock(module_->token_object_lock());
  SIMKMS_RETURN_IF_ERROR(CkStatus(f_->C_FindObjectsInit(handle_, a.data(), a.size()), "C_FindObjectsInit"));
  return FindOperation(f_, handle_);
}

StatusOr<std::vector<CK_OBJECT_HANDLE>> Session::FindAll(Attributes& a) {
  SIMKMS_ASSIGN_OR_RETURN(FindOperation find, BeginFind(a));
  std::vector<CK_OBJECT_HANDLE> all;
  for (;;) {
    SIMKMS_ASSIGN_OR_RETURN(auto batch, find.Next(64));
    if (batch.empty()) break;
    all.insert(all.end(), batch.begin(), batch.end());
  }
  return all;
}

Status Session::DestroyObject(CK_OBJECT_HANDLE object, std::string_view what) {
  return CkStatus(f_->C_DestroyObject(handle_, object), Op("C_DestroyObject", what));
}

namespace {

template <typename Buffer>
CK_BYTE_PTR WritableData(Buffer& b) {
  if constexpr (std::is_same_v<Buffer, SecretBytes>) {
    return b.mutable_data();
  } else {
    return b.data();
  }
}

// C_GetAttributeValue into a Bytes or a SecretBytes: one call with a buffer that
// fits every attribute simkms reads on its hot paths (a key type, a DH public value
// up to 4096 bits, an EC point, a PUK block), and the length query only if the
// module says it is too small (PKCS#11 2.40 §5.7.5: CKR_BUFFER_TOO_SMALL).
template <typename Buffer>
StatusOr<Buffer> ReadAttribute(CK_FUNCTION_LIST* f, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                               CK_ATTRIBUTE_TYPE type, std::string_view what) {
  Buffer out(kFirstTryBufferSize);
  CK_ATTRIBUTE attr{type, WritableData(out), static_cast<CK_ULONG>(out.size())};
  CK_RV rv = f->C_GetAttributeValue(session, object, &attr, 1);
  if (rv == CKR_BUFFER_TOO_SMALL) {
    attr = {type, nullptr, 0};
    SIMKMS_RETURN_IF_ERROR(
        CkStatus(f->C_GetAttributeValue(session, object, &attr, 1), Op("C_GetAttributeValue", what)));
    out.resize(attr.ulValueLen);
    attr.pValue = WritableData(out);
    rv = f->C_GetAttributeValue(session, object, &attr, 1);
  }
  SIMKMS_RETURN_IF_ERROR(CkStatus(rv, Op("C_GetAttributeValue", what)));
  out.resize(attr.ulValueLen);
  return out;
}

}  // namespace

StatusOr<Bytes> Session::GetAttribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type, std::string_view what) {
  return ReadAttribute<Bytes>(f_, handle_, object, type, what);
}

StatusOr<SecretBytes> GetSecretAttribute(Session& session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type,
                                         std::string_view what) {
  return ReadAttribute<SecretBytes>(session.functions(), session.handle(), object, type, what);
}

StatusOr<bool> Session::GetBoolAttribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type, std::string_view what) {
  SIMKMS_ASSIGN_OR_RETURN(Bytes v, GetAttribute(object, type, what));
  if (v.size() != sizeof(CK_BBOOL)) return InternalError(Op("C_GetAttributeValue", what) + ": not a CK_BBOOL");
  return v[0] != CK_FALSE;
}

Status Session::SetAttributes(CK_OBJECT_HANDLE object, Attributes& a, std::string_view what) {
  return CkStatus(f_->C_SetAttributeValue(handle_, object, a.data(), a.size()), Op("C_SetAttributeValue", what));
}

Status InitToken(Module& module, CK_SLOT_ID slot, const SecretBytes& so_pin, const std::string& label) {
  if (label.empty() || label.size() > 32) return InvalidArgumentError("token label must be 1..32 characters");
  unsigned char padded[32];
  std::memset(padded, ' ', sizeof padded);
  std::memcpy(padded, label.data(), label.size());
  return CkStatus(module.functions()->C_InitToken(slot, Mutable(so_pin.reveal()), so_pin.size(), padded),
                  "C_InitToken(" + label + ")");
}

}  // namespace simkms::p11
