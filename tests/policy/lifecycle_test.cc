// The lifecycle state machine: every (state, event) pair, then the paths and the data
// checks that the table cannot show.
#include "policy/lifecycle.h"
#include "tests/support/status_testing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>

namespace simkms::policy {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using S = SubscriberState;
using Code = ActivationCodeChange;

// ---------------------------------------------------------------------------------------
// The table: 5 states x 8 events. Each state is represented by a typical record, each
// event by data that would make it legal if the state allows it.

constexpr std::string_view kCode = "123456";
constexpr std::string_view kNewCode = "654321";

struct StateCase {
  const char* name;
  std::optional<SubscriberView> view;
};

const std::array<StateCase, 5> kStates = {{
    {"NoRecord", std::nullopt},
    {"Contracted", SubscriberView{S::kContracted, true, 3}},
    {"Personalized", SubscriberView{S::kPersonalized, false, 0}},
    {"RekeyPending", SubscriberView{S::kRekeyPending, false, 0}},
    {"Locked", SubscriberView{S::kLocked, false, 0}},
}};

struct EventCase {
  const char* name;
  Event event;
};

const std::array<EventCase, 8> kEvents = {{
    {"Contract", Contract{kCode}},
    {"FirstCallCompleted", FirstCallCompleted{.ki2_verified = true, .activation_code_accepted = true}},
    {"ActivationCodeRejected", ActivationCodeRejected{}},
    {"RekeyRequested", RekeyRequested{}},
    {"RekeyCompleted", RekeyCompleted{.ki2_verified = true}},
    {"Terminate", Terminate{}},
    {"Unlock", Unlock{kNewCode}},
    {"CloneSuspected", CloneSuspected{}},
}};

struct Expected {
  StatusCode code = StatusCode::kOk;  // kOk: legal, the fields below apply
  std::optional<SubscriberView> next;
  bool hotline = false;
  AuthKey key = AuthKey::kNone;
  Code code_change = Code::kKeep;
  bool audit_only = false;
  bool alarm = false;
  std::string_view audit;
};

Expected Err(StatusCode c) {
  Expected e;
  e.code = c;
  return e;
}
const Expected kNF = Err(StatusCode::kNotFound);
const Expected kAE = Err(StatusCode::kAlreadyExists);
const Expected kFP = Err(StatusCode::kFailedPrecondition);

const SubscriberView kContractedFresh{S::kContracted, true, 3};
const Expected kToContracted{StatusCode::kOk, kContractedFresh, true, AuthKey::kKi1, Code::kStoreNew, false, false, "subscriber.contract"};
const Expected kToPersonalized{StatusCode::kOk, SubscriberView{S::kPersonalized, false, 0}, false, AuthKey::kKi2, Code::kErase, false, false, "subscriber.first_call"};
const Expected kOneTryGone{StatusCode::kOk, SubscriberView{S::kContracted, true, 2}, true, AuthKey::kKi1, Code::kKeep, false, false, "subscriber.activation_code_rejected"};
const Expected kRemoved{StatusCode::kOk, std::nullopt, false, AuthKey::kNone, Code::kErase, false, false, "subscriber.terminate"};
const Expected kToRekeyPending{StatusCode::kOk, SubscriberView{S::kRekeyPending, false, 0}, true, AuthKey::kKi2, Code::kKeep, false, false, "subscriber.rekey_requested"};
const Expected kRekeyed{StatusCode::kOk, SubscriberView{S::kPersonalized, false, 0}, false, AuthKey::kKi2, Code::kKeep, false, false, "subscriber.rekey"};
const Expected kCloneP{StatusCode::kOk, SubscriberView{S::kPersonalized, false, 0}, false, AuthKey::kKi2, Code::kKeep, true, true, "subscriber.clone_suspected"};
const Expected kCloneR{StatusCode::kOk, SubscriberView{S::kRekeyPending, false, 0}, true, AuthKey::kKi2, Code::kKeep, true, true, "subscriber.clone_suspected"};
const Expected kUnlocked{StatusCode::kOk, kContractedFresh, true, AuthKey::kKi1, Code::kStoreNew, false, false, "subscriber.unlock"};

// Rows: states in kStates order. Columns: Contract, FirstCallCompleted,
// ActivationCodeRejected, RekeyRequested, RekeyCompleted, Terminate, Unlock, CloneSuspected.
const std::array<std::array<Expected, 8>, 5> kTable = {{
    /* NoRecord     */ {kToContracted, kNF, kNF, kNF, kNF, kNF, kNF, kNF},
    /* Contracted   */ {kAE, kToPersonalized, kOneTryGone, kFP, kFP, kRemoved, kFP, kFP},
    /* Personalized */ {kAE, kFP, kFP, kToRekeyPending, kFP, kRemoved, kFP, kCloneP},
    /* RekeyPending */ {kAE, kFP, kFP, kFP, kRekeyed, kRemoved, kFP, kCloneR},
    /* Locked       */ {kAE, kFP, kFP, kFP, kFP, kRemoved, kUnlocked, kFP},
}};

const char* kStateNames[] = {"NO_RECORD", "CONTRACTED", "PERSONALIZED", "REKEY_PENDING", "LOCKED"};

class TransitionTable : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(TransitionTable, MatchesTheDocumentedResult) {
  const auto [si, ei] = GetParam();
  const StateCase& state = kStates[si];
  const EventCase& event = kEvents[ei];
  const Expected& want = kTable[si][ei];
  const std::optional<SubscriberView> before = state.view;

  StatusOr<Transition> got = Apply(state.view, event.event);

  EXPECT_EQ(state.view, before) << "Apply must not touch its input";
  if (want.code != StatusCode::kOk) {
    ASSERT_FALSE(got.ok()) << "expected " << StatusCodeName(want.code);
    EXPECT_EQ(got.status().code(), want.code) << got.status().ToString();
    EXPECT_THAT(got.status().message(),
                HasSubstr(std::string("cannot ") + event.name + " in state " + kStateNames[si]));
    return;
  }
  ASSERT_OK(got);
  const Transition& t = *got;
  EXPECT_EQ(t.next, want.next);
  EXPECT_EQ(t.removes_record(), !want.next.has_value());
  EXPECT_EQ(t.hotline, want.hotline);
  EXPECT_EQ(t.auth_key, want.key) << AuthKeyName(t.auth_key);
  EXPECT_EQ(t.activation_code, want.code_change);
  EXPECT_EQ(t.audit_only, want.audit_only);
  EXPECT_EQ(t.security_alarm, want.alarm);
  EXPECT_EQ(t.audit_event, want.audit);
  // The transition's flags agree with the per-state queries the AuC and HLR use.
  if (t.next) {
    EXPECT_EQ(t.hotline, HotlineSet(t.next->state));
    EXPECT_EQ(t.auth_key, AuthVectorKey(t.next->state));
  }
}

INSTANTIATE_TEST_SUITE_P(AllPairs, TransitionTable,
                         ::testing::Combine(::testing::Range(0, 5), ::testing::Range(0, 8)),
                         [](const auto& info) {
                           return std::string(kStates[std::get<0>(info.param)].name) + "_" +
                                  kEvents[std::get<1>(info.param)].name;
                         });

TEST(TransitionTable, EventNamesMatchTheColumns) {
  for (const EventCase& e : kEvents) EXPECT_EQ(EventName(e.event), e.name);
}

// ---------------------------------------------------------------------------------------
// Paths through the machine.

Transition MustApply(const std::optional<SubscriberView>& current, const Event& event,
                     const Limits& limits = Limits{}) {
  StatusOr<Transition> t = Apply(current, event, limits);
  EXPECT_TRUE(t.ok()) << EventName(event) << " in " << StateName(current ? std::optional(current->state) : std::nullopt)
                      << ": " << t.status().ToString();
  return t.ok() ? *t : Transition{};
}

TEST(LifecyclePath, ContractFirstCallRekeyTerminateAndReuse) {
  std::optional<SubscriberView> rec;
  rec = MustApply(rec, Contract{kCode}).next;
  ASSERT_TRUE(rec);
  EXPECT_EQ(AuthVectorKey(rec->state), AuthKey::kKi1);
  rec = MustApply(rec, FirstCallCompleted{true, true}).next;
  ASSERT_TRUE(rec);
  EXPECT_FALSE(HotlineSet(rec->state));
  rec = MustApply(rec, RekeyRequested{}).next;
  ASSERT_TRUE(rec);
  EXPECT_TRUE(HotlineSet(rec->state));
  EXPECT_EQ(AuthVectorKey(rec->state), AuthKey::kKi2);
  rec = MustApply(rec, RekeyCompleted{true}).next;
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->state, S::kPersonalized);
  rec = MustApply(rec, Terminate{}).next;
  EXPECT_FALSE(rec);
  // Reuse of a used chip (patent Fig. 3): after reset it is contracted like a new one.
  rec = MustApply(rec, Contract{}).next;
  ASSERT_TRUE(rec);
  EXPECT_EQ(*rec, (SubscriberView{S::kContracted, false, 0}));
}

TEST(LifecyclePath, ActivationCodeTriesRunOutThenOperatorUnlocks) {
  std::optional<SubscriberView> rec = MustApply(std::nullopt, Contract{kCode}).next;
  ASSERT_EQ(rec->activation_tries_left, 3u);

  Transition t1 = MustApply(rec, ActivationCodeRejected{});
  EXPECT_EQ(t1.next->activation_tries_left, 2u);
  EXPECT_FALSE(t1.security_alarm);
  Transition t2 = MustApply(t1.next, ActivationCodeRejected{});
  EXPECT_EQ(t2.next->activation_tries_left, 1u);
  EXPECT_EQ(t2.audit_event, audit_event::kActivationCodeRejected);
  Transition t3 = MustApply(t2.next, ActivationCodeRejected{});
  EXPECT_EQ(*t3.next, (SubscriberView{S::kLocked, false, 0}));
  EXPECT_EQ(t3.audit_event, audit_event::kLocked);
  EXPECT_EQ(t3.auth_key, AuthKey::kNone);
  EXPECT_TRUE(t3.hotline);
  EXPECT_TRUE(t3.security_alarm);
  EXPECT_EQ(t3.activation_code, Code::kErase);

  // Locked: no OTA session, no vectors, nothing but Unlock/Terminate.
  EXPECT_EQ(OtaSessionFor(t3.next).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(AuthVectorKey(t3.next->state), AuthKey::kNone);

  Transition u = MustApply(t3.next, Unlock{kNewCode});
  EXPECT_EQ(*u.next, (SubscriberView{S::kContracted, true, 3}));
  EXPECT_EQ(u.activation_code, Code::kStoreNew);
  // The new code is now required for the first call.
  StatusOr<Transition> no_code = Apply(u.next, FirstCallCompleted{.ki2_verified = true});
  EXPECT_EQ(no_code.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(no_code.status().message(), HasSubstr("activation code not accepted"));
  EXPECT_OK(Apply(u.next, FirstCallCompleted{true, true}));
}

TEST(LifecyclePath, MaxTriesComeFromLimits) {
  Limits limits;
  limits.activation_code_max_tries = 5;
  Transition c = MustApply(std::nullopt, Contract{kCode}, limits);
  EXPECT_EQ(c.next->activation_tries_left, 5u);
  limits.activation_code_max_tries = 1;
  Transition locked = MustApply(MustApply(std::nullopt, Contract{kCode}, limits).next,
                                ActivationCodeRejected{}, limits);
  EXPECT_EQ(locked.next->state, S::kLocked);
  Transition u = MustApply(locked.next, Unlock{kNewCode}, limits);
  EXPECT_EQ(u.next->activation_tries_left, 1u);
}

// ---------------------------------------------------------------------------------------
// Event data checks.

TEST(LifecycleData, ContractWithoutActivationCode) {
  Transition t = MustApply(std::nullopt, Contract{});
  EXPECT_EQ(*t.next, (SubscriberView{S::kContracted, false, 0}));
  EXPECT_EQ(t.activation_code, Code::kErase);
  // Nothing to reject and nothing to accept.
  StatusOr<Transition> rej = Apply(t.next, ActivationCodeRejected{});
  EXPECT_EQ(rej.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(rej.status().message(), HasSubstr("no activation code set"));
  EXPECT_OK(Apply(t.next, FirstCallCompleted{.ki2_verified = true}));
  EXPECT_FALSE(OtaSessionFor(t.next)->check_activation_code);
}

TEST(LifecycleData, ContractMsisdnIsE164Digits) {
  for (std::string_view good : {"1", "4917012345678", "123456789012345"}) {
    SCOPED_TRACE(good);
    EXPECT_OK(Apply(std::nullopt, Contract{std::nullopt, good}));
  }
  for (std::string_view bad : {"", "1234567890123456", "+4917012345678", "49 170 1234", "0049-170"}) {
    auto t = Apply(std::nullopt, Contract{std::nullopt, bad});
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find("MSISDN must be 1..15 digits (ITU-T E.164"), std::string::npos)
        << t.status().message();
  }
  // No MSISDN at all is a contract like any other.
  EXPECT_OK(Apply(std::nullopt, Contract{std::nullopt, std::nullopt}));
}

TEST(LifecycleData, MalformedActivationCodesAreRejectedWithoutEchoingThem) {
  for (std::string_view bad : {"12345", "12345678901234567", "12a456", "", " 123456", "１２３４５６"}) {
    StatusOr<Transition> c = Apply(std::nullopt, Contract{bad});
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(c.status().message(), HasSubstr("Contract: activation code"));
    if (!bad.empty()) {
      EXPECT_THAT(c.status().message(), Not(HasSubstr(std::string(bad))));
    }
    StatusOr<Transition> u = Apply(SubscriberView{S::kLocked, false, 0}, Unlock{bad});
    EXPECT_EQ(u.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_OK(Apply(std::nullopt, Contract{"1234567890123456"}));  // 16 digits
}

TEST(LifecycleData, UnlockRequiresANewActivationCode) {
  StatusOr<Transition> u = Apply(SubscriberView{S::kLocked, false, 0}, Unlock{});
  EXPECT_EQ(u.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(u.status().message(), HasSubstr("cannot Unlock in state LOCKED: a new activation code is required"));
}

TEST(LifecycleData, FirstCallNeedsVerifiedKi2) {
  StatusOr<Transition> t = Apply(SubscriberView{S::kContracted, false, 0}, FirstCallCompleted{});
  EXPECT_EQ(t.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(t.status().message(),
              HasSubstr("cannot FirstCallCompleted in state CONTRACTED: Ki_2 not verified by challenge-response"));
}

TEST(LifecycleData, FirstCallNeedsAcceptedActivationCodeWhenOneIsSet) {
  StatusOr<Transition> t =
      Apply(SubscriberView{S::kContracted, true, 3}, FirstCallCompleted{.ki2_verified = true});
  EXPECT_EQ(t.status().code(), StatusCode::kPermissionDenied);
}

TEST(LifecycleData, RekeyNeedsVerifiedKi2) {
  StatusOr<Transition> t = Apply(SubscriberView{S::kRekeyPending, false, 0}, RekeyCompleted{});
  EXPECT_EQ(t.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(t.status().message(), HasSubstr("new Ki_2 not verified"));
}

TEST(LifecycleData, ContractedWithNoTriesLeftLocksInsteadOfWrapping) {
  Transition t = MustApply(SubscriberView{S::kContracted, true, 0}, ActivationCodeRejected{});
  EXPECT_EQ(t.next->state, S::kLocked);
  EXPECT_EQ(t.next->activation_tries_left, 0u);
}

TEST(LifecycleData, InvalidLimitsRefuseEveryEvent) {
  Limits bad;
  bad.activation_code_max_tries = 0;
  StatusOr<Transition> t = Apply(std::nullopt, Contract{kCode}, bad);
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(t.status().message(), HasSubstr("activation_code_max_tries"));
}

TEST(LifecycleData, CorruptPersistedStateIsDataLoss) {
  const SubscriberView corrupt{static_cast<S>(9), false, 0};
  for (const EventCase& e : kEvents) {
    StatusOr<Transition> t = Apply(corrupt, e.event);
    EXPECT_EQ(t.status().code(), StatusCode::kDataLoss) << e.name;
    EXPECT_THAT(t.status().message(), HasSubstr("unknown lifecycle state 9"));
  }
  EXPECT_EQ(OtaSessionFor(corrupt).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(StateName(static_cast<S>(0)), "UNKNOWN");
  // Fail closed: no key, hotline set.
  EXPECT_EQ(AuthVectorKey(static_cast<S>(0)), AuthKey::kNone);
  EXPECT_TRUE(HotlineSet(static_cast<S>(0)));
}

// Misuse 1.2 and 2 from the patent: Ki_1 seen after personalization. The state must not
// change (otherwise anyone with a leaked K1 could lock out genuine subscribers).
TEST(LifecycleMisuse, CloneSuspectedIsAuditOnlyAndRaisesAnAlarm) {
  for (S s : {S::kPersonalized, S::kRekeyPending}) {
    const SubscriberView rec{s, false, 0};
    Transition t = MustApply(rec, CloneSuspected{});
    EXPECT_TRUE(t.audit_only);
    EXPECT_TRUE(t.security_alarm);
    EXPECT_EQ(*t.next, rec);
    EXPECT_EQ(t.auth_key, AuthKey::kKi2) << "the AuC keeps using Ki_2, so the clone keeps failing";
  }
}

// Misuse 1.1: an IMSI nobody contracted is unknown to the AC.
TEST(LifecycleMisuse, UnknownSubscriberIsNotFound) {
  EXPECT_EQ(Apply(std::nullopt, CloneSuspected{}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(OtaSessionFor(std::nullopt).status().code(), StatusCode::kNotFound);
}

// ---------------------------------------------------------------------------------------
// Queries.

TEST(LifecycleQueries, AuthVectorKeyPerState) {
  EXPECT_EQ(AuthVectorKey(S::kContracted), AuthKey::kKi1);
  EXPECT_EQ(AuthVectorKey(S::kPersonalized), AuthKey::kKi2);
  EXPECT_EQ(AuthVectorKey(S::kRekeyPending), AuthKey::kKi2);
  EXPECT_EQ(AuthVectorKey(S::kLocked), AuthKey::kNone);
}

TEST(LifecycleQueries, HotlinePerState) {
  EXPECT_TRUE(HotlineSet(S::kContracted));
  EXPECT_FALSE(HotlineSet(S::kPersonalized));
  EXPECT_TRUE(HotlineSet(S::kRekeyPending));
  EXPECT_TRUE(HotlineSet(S::kLocked));
}

TEST(LifecycleQueries, OtaSessionPerState) {
  StatusOr<OtaSessionPolicy> first = OtaSessionFor(SubscriberView{S::kContracted, true, 3});
  ASSERT_OK(first);
  EXPECT_EQ(first->kind, OtaKind::kFirstCall);
  EXPECT_EQ(first->auth_key, AuthKey::kKi1);
  EXPECT_TRUE(first->negotiate_puk);
  EXPECT_TRUE(first->check_activation_code);

  StatusOr<OtaSessionPolicy> rekey = OtaSessionFor(SubscriberView{S::kRekeyPending, false, 0});
  ASSERT_OK(rekey);
  EXPECT_EQ(rekey->kind, OtaKind::kRekey);
  EXPECT_EQ(rekey->auth_key, AuthKey::kKi2);
  EXPECT_FALSE(rekey->negotiate_puk) << "patent: the PUK should not be renegotiated";
  EXPECT_FALSE(rekey->check_activation_code);

  StatusOr<OtaSessionPolicy> none = OtaSessionFor(SubscriberView{S::kPersonalized, false, 0});
  EXPECT_EQ(none.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(none.status().message(), HasSubstr("PERSONALIZED"));
  StatusOr<OtaSessionPolicy> locked = OtaSessionFor(SubscriberView{S::kLocked, false, 0});
  EXPECT_EQ(locked.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(locked.status().message(), HasSubstr("operator must unlock"));

  EXPECT_TRUE(NegotiatesPuk(OtaKind::kFirstCall));
  EXPECT_FALSE(NegotiatesPuk(OtaKind::kRekey));
}

TEST(LifecycleQueries, Names) {
  EXPECT_EQ(StateName(std::nullopt), "NO_RECORD");
  EXPECT_EQ(StateName(S::kContracted), "CONTRACTED");
  EXPECT_EQ(StateName(S::kPersonalized), "PERSONALIZED");
  EXPECT_EQ(StateName(S::kRekeyPending), "REKEY_PENDING");
  EXPECT_EQ(StateName(S::kLocked), "LOCKED");
  EXPECT_EQ(AuthKeyName(AuthKey::kNone), "none");
  EXPECT_EQ(AuthKeyName(AuthKey::kKi1), "Ki_1");
  EXPECT_EQ(AuthKeyName(AuthKey::kKi2), "Ki_2");
}

TEST(LifecycleQueries, AuditEventNamesAreDistinctAndNamespaced) {
  const std::string_view names[] = {
      audit_event::kContract,       audit_event::kFirstCall, audit_event::kActivationCodeRejected,
      audit_event::kLocked,         audit_event::kRekeyRequested, audit_event::kRekey,
      audit_event::kTerminate,      audit_event::kUnlock,    audit_event::kCloneSuspected};
  std::set<std::string_view> seen;
  for (std::string_view n : names) {
    EXPECT_TRUE(n.starts_with("subscriber.")) << n;
    EXPECT_TRUE(seen.insert(n).second) << n;
  }
}

}  // namespace
}  // namespace simkms::policy
