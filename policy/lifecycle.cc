#include "policy/lifecycle.h"

#include <string>
#include <type_traits>

#include "storage/msisdn.h"

namespace simkms::policy {
namespace {

bool IsKnownState(SubscriberState s) {
  switch (s) {
    case SubscriberState::kContracted:
    case SubscriberState::kPersonalized:
    case SubscriberState::kRekeyPending:
    case SubscriberState::kLocked:
      return true;
  }
  return false;
}

std::string Cannot(std::string_view event, const std::optional<SubscriberView>& current) {
  return "cannot " + std::string(event) + " in state " +
         std::string(StateName(current ? std::optional(current->state) : std::nullopt));
}

// The error for an event that the state does not allow. Without a record the caller
// addressed a subscriber that does not exist, which is NotFound (misuse 1.1), not a
// precondition on an existing one.
Status Illegal(std::string_view event, const std::optional<SubscriberView>& current) {
  if (!current) return NotFoundError(Cannot(event, current) + ": no subscriber record");
  return FailedPreconditionError(Cannot(event, current));
}

bool In(const std::optional<SubscriberView>& current, SubscriberState s) {
  return current && current->state == s;
}

Transition Persist(SubscriberView next, ActivationCodeChange code, std::string_view audit) {
  Transition t;
  t.hotline = HotlineSet(next.state);
  t.auth_key = AuthVectorKey(next.state);
  t.next = next;
  t.activation_code = code;
  t.audit_event = audit;
  return t;
}

class Applier {
 public:
  Applier(const std::optional<SubscriberView>& current, const Limits& limits)
      : cur_(current), limits_(limits) {}

  StatusOr<Transition> operator()(const Contract& e) const {
    if (cur_) {
      return AlreadyExistsError(Cannot("Contract", cur_) +
                                ": a subscriber record exists (terminate it first)");
    }
    if (e.msisdn && !storage::IsValidMsisdn(*e.msisdn)) {
      return InvalidArgumentError("Contract: the MSISDN must be 1.." + std::to_string(storage::kMaxMsisdnDigits) +
                                  " digits (ITU-T E.164, country code first, no '+' or spaces), got " +
                                  std::to_string(e.msisdn->size()) + " characters");
    }
    if (e.activation_code) {
      SIMKMS_RETURN_IF_ERROR(CheckActivationCodeFormat(*e.activation_code, limits_).WithContext("Contract"));
      return Persist({SubscriberState::kContracted, true, limits_.activation_code_max_tries},
                     ActivationCodeChange::kStoreNew, audit_event::kContract);
    }
    return Persist({SubscriberState::kContracted, false, 0}, ActivationCodeChange::kErase,
                   audit_event::kContract);
  }

  StatusOr<Transition> operator()(const FirstCallCompleted& e) const {
    if (!In(cur_, SubscriberState::kContracted)) return Illegal("FirstCallCompleted", cur_);
    if (!e.ki2_verified) {
      return FailedPreconditionError(Cannot("FirstCallCompleted", cur_) +
                                     ": Ki_2 not verified by challenge-response");
    }
    if (cur_->activation_code_set && !e.activation_code_accepted) {
      return PermissionDeniedError(Cannot("FirstCallCompleted", cur_) + ": activation code not accepted");
    }
    return Persist({SubscriberState::kPersonalized, false, 0}, ActivationCodeChange::kErase,
                   audit_event::kFirstCall);
  }

  StatusOr<Transition> operator()(const ActivationCodeRejected&) const {
    if (!In(cur_, SubscriberState::kContracted)) return Illegal("ActivationCodeRejected", cur_);
    if (!cur_->activation_code_set) {
      return FailedPreconditionError(Cannot("ActivationCodeRejected", cur_) + ": no activation code set");
    }
    // A record already at 0 tries should not exist; it locks rather than wraps (fail closed).
    const uint32_t left = cur_->activation_tries_left > 0 ? cur_->activation_tries_left - 1 : 0;
    if (left == 0) {
      Transition t = Persist({SubscriberState::kLocked, false, 0}, ActivationCodeChange::kErase,
                             audit_event::kLocked);
      t.security_alarm = true;  // possibly a clone racing the genuine chip (misuse 1.3)
      return t;
    }
    return Persist({SubscriberState::kContracted, true, left}, ActivationCodeChange::kKeep,
                   audit_event::kActivationCodeRejected);
  }

  StatusOr<Transition> operator()(const RekeyRequested&) const {
    if (!In(cur_, SubscriberState::kPersonalized)) return Illegal("RekeyRequested", cur_);
    return Persist({SubscriberState::kRekeyPending, false, 0}, ActivationCodeChange::kKeep,
                   audit_event::kRekeyRequested);
  }

  StatusOr<Transition> operator()(const RekeyCompleted& e) const {
    if (!In(cur_, SubscriberState::kRekeyPending)) return Illegal("RekeyCompleted", cur_);
    if (!e.ki2_verified) {
      return FailedPreconditionError(Cannot("RekeyCompleted", cur_) +
                                     ": new Ki_2 not verified by challenge-response");
    }
    return Persist({SubscriberState::kPersonalized, false, 0}, ActivationCodeChange::kKeep,
                   audit_event::kRekey);
  }

  StatusOr<Transition> operator()(const Terminate&) const {
    if (!cur_) return Illegal("Terminate", cur_);
    Transition t;
    t.activation_code = ActivationCodeChange::kErase;
    t.audit_event = audit_event::kTerminate;
    return t;
  }

  StatusOr<Transition> operator()(const Unlock& e) const {
    if (!In(cur_, SubscriberState::kLocked)) return Illegal("Unlock", cur_);
    // Fresh tries on the old code would just give a guesser more guesses.
    if (!e.new_activation_code) {
      return InvalidArgumentError(Cannot("Unlock", cur_) + ": a new activation code is required");
    }
    SIMKMS_RETURN_IF_ERROR(CheckActivationCodeFormat(*e.new_activation_code, limits_).WithContext("Unlock"));
    return Persist({SubscriberState::kContracted, true, limits_.activation_code_max_tries},
                   ActivationCodeChange::kStoreNew, audit_event::kUnlock);
  }

  StatusOr<Transition> operator()(const CloneSuspected&) const {
    if (!In(cur_, SubscriberState::kPersonalized) && !In(cur_, SubscriberState::kRekeyPending)) {
      return Illegal("CloneSuspected", cur_);
    }
    // The state stays: locking here would let anyone holding a leaked K1 lock out genuine
    // subscribers. The clone already fails authentication because the AuC uses Ki_2.
    Transition t = Persist(*cur_, ActivationCodeChange::kKeep, audit_event::kCloneSuspected);
    t.audit_only = true;
    t.security_alarm = true;
    return t;
  }

 private:
  const std::optional<SubscriberView>& cur_;
  const Limits& limits_;
};

Status CheckCurrent(const std::optional<SubscriberView>& current) {
  if (current && !IsKnownState(current->state)) {
    return DataLossError("subscriber record holds unknown lifecycle state " +
                         std::to_string(static_cast<unsigned>(current->state)));
  }
  return OkStatus();
}

}  // namespace

StatusOr<Transition> Apply(const std::optional<SubscriberView>& current, const Event& event,
                           const Limits& limits) {
  SIMKMS_RETURN_IF_ERROR(ValidateLimits(limits));
  SIMKMS_RETURN_IF_ERROR(CheckCurrent(current));
  return std::visit(Applier(current, limits), event);
}

AuthKey AuthVectorKey(SubscriberState state) {
  switch (state) {
    case SubscriberState::kContracted: return AuthKey::kKi1;
    case SubscriberState::kPersonalized: return AuthKey::kKi2;
    case SubscriberState::kRekeyPending: return AuthKey::kKi2;
    case SubscriberState::kLocked: return AuthKey::kNone;
  }
  return AuthKey::kNone;
}

bool HotlineSet(SubscriberState state) {
  return state != SubscriberState::kPersonalized;
}

StatusOr<OtaSessionPolicy> OtaSessionFor(const std::optional<SubscriberView>& current) {
  SIMKMS_RETURN_IF_ERROR(CheckCurrent(current));
  if (!current) return NotFoundError("no OTA session in state NO_RECORD: no subscriber record");
  switch (current->state) {
    case SubscriberState::kContracted:
      return OtaSessionPolicy{OtaKind::kFirstCall, AuthKey::kKi1, NegotiatesPuk(OtaKind::kFirstCall),
                              current->activation_code_set};
    case SubscriberState::kRekeyPending:
      return OtaSessionPolicy{OtaKind::kRekey, AuthKey::kKi2, NegotiatesPuk(OtaKind::kRekey), false};
    case SubscriberState::kPersonalized:
      return FailedPreconditionError("no OTA session in state PERSONALIZED: no first call or re-key is due");
    case SubscriberState::kLocked:
      return FailedPreconditionError(
          "no OTA session in state LOCKED: activation code tries exhausted, the operator must unlock");
  }
  return InternalError("unreachable");
}

bool NegotiatesPuk(OtaKind kind) { return kind == OtaKind::kFirstCall; }

std::string_view StateName(const std::optional<SubscriberState>& state) {
  if (!state) return "NO_RECORD";
  switch (*state) {
    case SubscriberState::kContracted: return "CONTRACTED";
    case SubscriberState::kPersonalized: return "PERSONALIZED";
    case SubscriberState::kRekeyPending: return "REKEY_PENDING";
    case SubscriberState::kLocked: return "LOCKED";
  }
  return "UNKNOWN";
}

std::string_view EventName(const Event& event) {
  return std::visit(
      [](const auto& e) -> std::string_view {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, Contract>) return "Contract";
        else if constexpr (std::is_same_v<E, FirstCallCompleted>) return "FirstCallCompleted";
        else if constexpr (std::is_same_v<E, ActivationCodeRejected>) return "ActivationCodeRejected";
        else if constexpr (std::is_same_v<E, RekeyRequested>) return "RekeyRequested";
        else if constexpr (std::is_same_v<E, RekeyCompleted>) return "RekeyCompleted";
        else if constexpr (std::is_same_v<E, Terminate>) return "Terminate";
        else if constexpr (std::is_same_v<E, Unlock>) return "Unlock";
        else {
          static_assert(std::is_same_v<E, CloneSuspected>, "name every Event alternative");
          return "CloneSuspected";
        }
      },
      event);
}

std::string_view AuthKeyName(AuthKey key) {
  switch (key) {
    case AuthKey::kNone: return "none";
    case AuthKey::kKi1: return "Ki_1";
    case AuthKey::kKi2: return "Ki_2";
  }
  return "unknown";
}

}  // namespace simkms::policy
