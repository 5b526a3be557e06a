// `audit verify --state` and `records seal`: the live records against the audit
// trail, and the one-time migration of a DB from before record MACs
// (docs/storage-format.md §5).
#include <ostream>

#include "kms/registry.h"
#include "storage/state_audit.h"
#include "tools/kmsctl/commands.h"
#include "tools/kmsctl/output.h"

namespace simkms::kmsctl {
namespace {

void PrintStateReport(const storage::StateVerifyReport& report, const GlobalOptions& g, std::ostream& out) {
  Fields f;
  f.Add("state_result", report.ok ? "OK" : "DIFFERS");
  f.Add("audit_records_replayed", std::to_string(report.audit_records_replayed));
  f.Add("subscribers_checked", std::to_string(report.subscribers_checked));
  f.Add("wrapped_keys_checked", std::to_string(report.wrapped_keys_checked));
  for (std::size_t i = 0; i < report.differences.size(); ++i) {
    f.Add("difference." + std::to_string(i + 1), report.differences[i]);
  }
  for (std::size_t i = 0; i < report.notes.size(); ++i) f.Add("state_note." + std::to_string(i + 1), report.notes[i]);
  if (g.json) {
    out << f.ToJson().dump(2) << "\n";
  } else {
    f.Print(out);
  }
}

// Commits `writes` as one audited "records.seal" step; empties it.
Status CommitSealStep(Context& ctx, storage::WriteSet& writes, std::size_t records, std::size_t& sealed) {
  if (writes.empty()) return OkStatus();
  storage::AuditEvent event;
  event.time_ms = kms::SystemClockMs();
  event.actor_role = ctx.actor().role;
  event.actor_identity = ctx.actor().identity;
  event.event = "records.seal";
  event.details = {{"records", std::to_string(records)}};
  SIMKMS_RETURN_IF_ERROR(ctx.store().Commit(writes, event));
  sealed += records;
  writes = storage::WriteSet();
  return OkStatus();
}

}  // namespace

Status RunAuditVerifyState(const GlobalOptions& g, std::ostream& out, bool* state_ok) {
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, Context::Open(g));
  SIMKMS_RETURN_IF_ERROR(ctx->LoadKeys());
  SIMKMS_RETURN_IF_ERROR(ctx->OpenStore(/*read_only=*/true));
  SIMKMS_ASSIGN_OR_RETURN(storage::StateVerifyReport report, storage::VerifyState(ctx->store()));
  *state_ok = report.ok;
  PrintStateReport(report, g, out);
  return OkStatus();
}

Status RunRecordsSeal(const GlobalOptions& g, std::ostream& out) {
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, Context::Open(g));
  // A token from before record MACs lacks the record key: it comes from MK like
  // every service key (a restore from the custodians' backup would make the same),
  // so only then is the ceremony token needed.
  std::vector<std::string> derived;
  if (!ctx->LoadKeys().ok()) {
    SIMKMS_RETURN_IF_ERROR(ctx->OpenCeremonyToken());
    SIMKMS_ASSIGN_OR_RETURN(derived, ctx->ceremony().MoveMissingServiceKeys());
  }
  SIMKMS_RETURN_IF_ERROR(ctx->LoadKeys());
  ctx->AcceptUnsealedRecords();
  SIMKMS_RETURN_IF_ERROR(ctx->OpenStore(/*read_only=*/false));
  // Only records the trail vouches for are sealed: sealing makes them authentic.
  SIMKMS_ASSIGN_OR_RETURN(storage::AuditVerifyReport chain, ctx->store().VerifyAudit());
  if (!chain.ok) {
    return FailedPreconditionError("audit chain broken at record " + std::to_string(chain.first_bad_seq) + " (" +
                                   chain.problem + "): nothing sealed");
  }
  SIMKMS_ASSIGN_OR_RETURN(storage::StateVerifyReport state, storage::VerifyState(ctx->store()));
  if (!state.ok) {
    PrintStateReport(state, g, out);
    return FailedPreconditionError("live records differ from the audit trail (" +
                                   std::to_string(state.differences.size()) + " differences): nothing sealed");
  }
  // Re-written through Commit, which MACs every record it puts; in audited steps of
  // at most kStep records so that no batch grows without bound.
  constexpr std::size_t kStep = 512;
  std::size_t sealed = 0, pending = 0;
  storage::WriteSet writes;
  auto add = [&]() -> Status {
    if (++pending < kStep) return OkStatus();
    const std::size_t n = pending;
    pending = 0;
    return CommitSealStep(*ctx, writes, n, sealed);
  };
  SIMKMS_ASSIGN_OR_RETURN(auto vers, ctx->store().ListVers());
  for (storage::VerRecord& v : vers) {
    writes.PutVer(std::move(v));
    SIMKMS_RETURN_IF_ERROR(add());
  }
  SIMKMS_ASSIGN_OR_RETURN(auto ranges, ctx->store().ListRanges());
  for (storage::RangeRecord& r : ranges) {
    writes.DeleteRange(r.id);  // PutRange is create-only
    writes.PutRange(std::move(r));
    SIMKMS_RETURN_IF_ERROR(add());
  }
  Status failed;
  std::vector<storage::SubscriberRecord> subscribers;
  SIMKMS_RETURN_IF_ERROR(ctx->store().ScanSubscribers([&](std::string_view, const auto& r) {
    if (!r.ok() && failed.ok()) failed = r.status();
    if (r.ok()) subscribers.push_back(*r);
  }));
  std::vector<storage::WrappedKeyRecord> keys;
  SIMKMS_RETURN_IF_ERROR(ctx->store().ScanWrappedKeys([&](std::string_view, const auto& r) {
    if (!r.ok() && failed.ok()) failed = r.status();
    if (r.ok()) keys.push_back(*r);
  }));
  SIMKMS_RETURN_IF_ERROR(failed);
  for (storage::SubscriberRecord& r : subscribers) {
    writes.PutSubscriber(std::move(r));
    SIMKMS_RETURN_IF_ERROR(add());
  }
  for (storage::WrappedKeyRecord& k : keys) {
    writes.PutWrappedKey(std::move(k));
    SIMKMS_RETURN_IF_ERROR(add());
  }
  SIMKMS_RETURN_IF_ERROR(CommitSealStep(*ctx, writes, pending, sealed));
  Fields f;
  f.Add("records_sealed", std::to_string(sealed));
  f.Add("service_keys_derived", derived.empty() ? "none" : std::to_string(derived.size()));
  if (g.json) {
    out << f.ToJson().dump(2) << "\n";
  } else {
    f.Print(out);
  }
  return OkStatus();
}

}  // namespace simkms::kmsctl
