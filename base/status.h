// Status and StatusOr: the one error type of simkms.
//
// A Status carries a code and a human-readable message; layers add context as
// the error travels up ("C_DeriveKey(K1 for VER 3): CKR_KEY_TYPE_INCONSISTENT").
// Messages never contain key material: callers pass identifiers and KCVs only.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace simkms {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // bad input from a caller or peer
  kNotFound,            // an object, record or key that should exist does not
  kAlreadyExists,       // a create that collides with existing state
  kFailedPrecondition,  // the system is not in a state that allows the operation
  kPermissionDenied,    // authentication or authorisation refused
  kUnauthenticated,     // a MAC, check value or login did not verify
  kDataLoss,            // stored data is corrupt or was tampered with
  kResourceExhausted,   // a bound was reached (tries, cache, sizes)
  kUnavailable,         // a dependency (token, DB) cannot be reached now
  kAborted,             // a transaction lost a conflict and wrote nothing: run it again
  kInternal,            // a bug or an unexpected library failure
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "INVALID_ARGUMENT: message"
  std::string ToString() const;
  // Returns a copy whose message is "context: message"; OK stays OK.
  Status WithContext(std::string_view context) const;

  // Makes discarding a Status an explicit, searchable act.
  void IgnoreError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status OkStatus() { return Status(); }
Status InvalidArgumentError(std::string message);
Status NotFoundError(std::string message);
Status AlreadyExistsError(std::string message);
Status FailedPreconditionError(std::string message);
Status PermissionDeniedError(std::string message);
Status UnauthenticatedError(std::string message);
Status DataLossError(std::string message);
Status ResourceExhaustedError(std::string message);
Status UnavailableError(std::string message);
Status AbortedError(std::string message);
Status InternalError(std::string message);

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "StatusOr built from an OK Status");
  }
  StatusOr(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? OkStatus() : std::get<Status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace simkms

#define SIMKMS_CONCAT_INNER_(a, b) a##b
#define SIMKMS_CONCAT_(a, b) SIMKMS_CONCAT_INNER_(a, b)

#define SIMKMS_RETURN_IF_ERROR(expr)            \
  do {                                          \
    ::simkms::Status simkms_status_ = (expr);   \
    if (!simkms_status_.ok()) return simkms_status_; \
  } while (0)

#define SIMKMS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

#define SIMKMS_ASSIGN_OR_RETURN(lhs, expr) \
  SIMKMS_ASSIGN_OR_RETURN_IMPL_(SIMKMS_CONCAT_(simkms_statusor_, __LINE__), lhs, expr)
