// The subscriber lifecycle: the one state machine of simkms (docs/lifecycle.md).
//
// A subscriber record's state changes only through Apply(): the caller reads the record,
// calls Apply() with the event, and writes the returned Transition (new state or removal,
// plus the audit entry it names) in one atomic batch. Apply() is a pure function of its
// arguments: no I/O, no clock, no key material, thread-safe. An event that is illegal in
// the current state returns an error and the caller must leave the record untouched.
//
// "No record" (std::nullopt) is a state too: a chip in an assigned range that nobody has
// contracted yet. It costs the appliance nothing (patent: "no static load").
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

#include "base/status.h"
#include "policy/limits.h"
#include "storage/subscriber_state.h"

namespace simkms::policy {

using SubscriberState = storage::SubscriberState;

// The fields of a persisted subscriber record that the lifecycle reads and decides.
struct SubscriberView {
  SubscriberState state = SubscriberState::kContracted;
  // Whether an activation code (misuse 1.3) is stored for the pending first call.
  bool activation_code_set = false;
  // Tries left for the activation code; 0 unless state is CONTRACTED with a code set.
  uint32_t activation_tries_left = 0;

  friend bool operator==(const SubscriberView&, const SubscriberView&) = default;
};

// The key that authenticates the subscriber (AuC vectors, OTA session).
enum class AuthKey {
  kNone,  // no vectors: the subscriber cannot attach
  kKi1,   // derived on demand from K1(VER) and the IMSI, never stored
  kKi2,   // negotiated on the first call (or the last re-key), held by the token
};

// ---- Events, each with the data Apply() needs to judge it. ----

// VO signs a contract. The activation code, if any, is printed on the order document; it
// is only format-checked here and never copied (the caller stores it protected). The
// MSISDN, if any, is the subscriber's number that the HLR role sends to the network
// (docs/gsup.md §10): ITU-T E.164, 1..15 digits, no '+' (InvalidArgument otherwise).
struct Contract {
  std::optional<std::string_view> activation_code;
  std::optional<std::string_view> msisdn = std::nullopt;
};
// The SC finished a first call: Ki_2 (and the PUK) negotiated under Ki_1, Ki_2 verified by
// a challenge-response with the chip and committed to the token.
struct FirstCallCompleted {
  bool ki2_verified = false;              // RES/SRES from the chip matched the AC's
  bool activation_code_accepted = false;  // required when the record has a code set
};
// The SC checked an activation code on a first call and it was wrong (one failed try).
struct ActivationCodeRejected {};
// The operator asks for a new Ki_2 (periodic or on demand).
struct RekeyRequested {};
// The SC finished a re-key session under the current Ki_2; the new Ki_2 verified, committed.
struct RekeyCompleted {
  bool ki2_verified = false;
};
// The operator/VO ends the contract: the record, Ki_2, PUK and activation code are deleted.
struct Terminate {};
// The operator reopens a LOCKED record with a fresh activation code (and fresh tries).
struct Unlock {
  std::optional<std::string_view> new_activation_code;
};
// The AC saw the subscriber authenticate with Ki_1 although Ki_2 is active (misuse 1.2,
// or misuse 2: the customer reset his own chip). Audit-only: the state does not change.
struct CloneSuspected {};

using Event = std::variant<Contract, FirstCallCompleted, ActivationCodeRejected, RekeyRequested,
                           RekeyCompleted, Terminate, Unlock, CloneSuspected>;

// What happens to the stored activation code.
enum class ActivationCodeChange {
  kKeep,      // leave as is
  kStoreNew,  // store the code carried by the event (Contract/Unlock with a code)
  kErase,     // delete any stored code (used, burnt by LOCKED, or not given)
};

// Audit event names, recorded with every transition (the trail is the source of truth
// for "who changed which subscriber how").
namespace audit_event {
inline constexpr std::string_view kContract = "subscriber.contract";
inline constexpr std::string_view kFirstCall = "subscriber.first_call";
inline constexpr std::string_view kActivationCodeRejected = "subscriber.activation_code_rejected";
inline constexpr std::string_view kLocked = "subscriber.locked";
inline constexpr std::string_view kRekeyRequested = "subscriber.rekey_requested";
inline constexpr std::string_view kRekey = "subscriber.rekey";
inline constexpr std::string_view kTerminate = "subscriber.terminate";
inline constexpr std::string_view kUnlock = "subscriber.unlock";
inline constexpr std::string_view kCloneSuspected = "subscriber.clone_suspected";
}  // namespace audit_event

struct Transition {
  // The record to persist; nullopt: remove the record with its Ki_2, PUK and code.
  std::optional<SubscriberView> next;
  // HLR hotline flag afterwards (first/re-key call routed to the SC). False when removed.
  bool hotline = false;
  // Which key authenticates the subscriber afterwards (kNone when removed or LOCKED).
  AuthKey auth_key = AuthKey::kNone;
  ActivationCodeChange activation_code = ActivationCodeChange::kKeep;
  // The record is unchanged; only the audit entry (and the alarm) is written.
  bool audit_only = false;
  // Raise a security alarm to the operator (clone suspected, activation code exhausted).
  bool security_alarm = false;
  std::string_view audit_event;

  bool removes_record() const { return !next.has_value(); }
};

// Applies `event` to the record `current` (nullopt: no record).
// Errors (the record must then stay as it is):
//  - NotFound: any event but Contract on no record (an unknown ICCID/IMSI, misuse 1.1);
//  - AlreadyExists: Contract on an existing record;
//  - FailedPrecondition: the event is illegal in the state ("cannot RekeyRequested in
//    state CONTRACTED"), or its data does not allow it (Ki_2 not verified);
//  - PermissionDenied: FirstCallCompleted without an accepted activation code when one
//    is set;
//  - InvalidArgument: a malformed activation code or MSISDN, or invalid limits;
//  - DataLoss: `current` holds a state value outside the enum (corrupt record).
[[nodiscard]] StatusOr<Transition> Apply(const std::optional<SubscriberView>& current,
                                         const Event& event, const Limits& limits = Limits{});

// ---- Queries used by the AuC, the HLR view and the SC. ----

// The key the AuC uses for authentication vectors: Ki_1 in CONTRACTED, Ki_2 in
// PERSONALIZED and REKEY_PENDING, none in LOCKED (and for values outside the enum).
[[nodiscard]] AuthKey AuthVectorKey(SubscriberState state);
// The HLR hotline flag: set in CONTRACTED, REKEY_PENDING and LOCKED (and, failing closed,
// for values outside the enum); clear only in PERSONALIZED.
[[nodiscard]] bool HotlineSet(SubscriberState state);

enum class OtaKind { kFirstCall, kRekey };

// How the SC must run an over-the-air session for a record.
struct OtaSessionPolicy {
  OtaKind kind = OtaKind::kFirstCall;
  AuthKey auth_key = AuthKey::kNone;  // Ki_1 for the first call, current Ki_2 for re-key
  bool negotiate_puk = false;         // first call yes; re-key no ("the PUK should not be renegotiated")
  bool check_activation_code = false; // first call with a code set
};

// The OTA session the SC may run for `current`: a first call in CONTRACTED, a re-key in
// REKEY_PENDING. NotFound for no record, FailedPrecondition in PERSONALIZED (no session
// is due) and LOCKED (the operator must unlock first), DataLoss for a corrupt state.
[[nodiscard]] StatusOr<OtaSessionPolicy> OtaSessionFor(const std::optional<SubscriberView>& current);
[[nodiscard]] bool NegotiatesPuk(OtaKind kind);

// "NO_RECORD" (nullopt), "CONTRACTED", "PERSONALIZED", "REKEY_PENDING", "LOCKED"; values
// outside the enum (a corrupt record) give "UNKNOWN".
[[nodiscard]] std::string_view StateName(const std::optional<SubscriberState>& state);
// "Contract", "FirstCallCompleted", ... (the struct's name).
[[nodiscard]] std::string_view EventName(const Event& event);
// "none", "Ki_1", "Ki_2".
[[nodiscard]] std::string_view AuthKeyName(AuthKey key);

}  // namespace simkms::policy
