#include <ostream>

#include "kms/ceremony.h"
#include "tools/kmsctl/commands.h"
#include "tools/kmsctl/output.h"

namespace simkms::kmsctl {
namespace {

StatusOr<std::unique_ptr<Context>> OpenReadOnly(const GlobalOptions& g) {
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, Context::Open(g));
  SIMKMS_RETURN_IF_ERROR(ctx->LoadKeys());
  SIMKMS_RETURN_IF_ERROR(ctx->OpenStore(/*read_only=*/true));
  return ctx;
}

std::string Details(const storage::AuditEvent& e) {
  std::string s;
  for (const auto& [k, v] : e.details) {
    if (!s.empty()) s += " ";
    s += k + "=" + v;
  }
  return s;
}

std::string FormatTime(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

Status RunAuditVerify(const GlobalOptions& g, std::ostream& out, bool* chain_ok) {
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, OpenReadOnly(g));
  SIMKMS_ASSIGN_OR_RETURN(storage::AuditVerifyReport report, ctx->store().VerifyAudit());
  *chain_ok = report.ok;
  Fields f;
  f.Add("result", report.ok ? "OK" : "BROKEN");
  f.Add("records_checked", std::to_string(report.records_checked));
  f.Add("last_seq", std::to_string(report.last_seq));
  if (!report.ok) {
    f.Add("first_bad_seq", std::to_string(report.first_bad_seq));
    f.Add("problem", report.problem);
  }
  for (std::size_t i = 0; i < report.notes.size(); ++i) f.Add("note." + std::to_string(i + 1), report.notes[i]);
  if (g.json) {
    out << f.ToJson().dump(2) << "\n";
  } else {
    f.Print(out);
  }
  return OkStatus();
}

Status RunAuditShow(const GlobalOptions& g, uint64_t from, std::size_t limit, std::ostream& out) {
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, OpenReadOnly(g));
  SIMKMS_ASSIGN_OR_RETURN(auto records, ctx->store().ReadAudit(from, limit));
  Table t({"seq", "time", "actor", "event", "subject", "details"});
  for (const auto& r : records) {
    t.AddRow({std::to_string(r.seq), FormatTime(r.event.time_ms), r.event.actor_role + ":" + r.event.actor_identity,
              r.event.event, r.event.subject, Details(r.event)});
  }
  if (g.json) {
    out << t.ToJson().dump(2) << "\n";
  } else {
    t.Print(out);
  }
  return OkStatus();
}

Status RunStatus(const GlobalOptions& g, std::ostream& out) {
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, Context::Open(g));
  SIMKMS_RETURN_IF_ERROR(ctx->LoadKeys());
  SIMKMS_ASSIGN_OR_RETURN(kms::KeyKcvs kcvs, kms::ReadKcvs(ctx->session(), ctx->keys()));
  Fields f;
  f.Add("token", ctx->token_label());
  AddKcvFields(kcvs, f);
  if (!g.db.empty()) {
    SIMKMS_RETURN_IF_ERROR(ctx->OpenStore(/*read_only=*/true));
    SIMKMS_ASSIGN_OR_RETURN(auto vers, ctx->store().ListVers());
    SIMKMS_ASSIGN_OR_RETURN(auto ranges, ctx->store().ListRanges());
    SIMKMS_ASSIGN_OR_RETURN(uint64_t subscribers, ctx->store().CountKeys("subscribers"));
    SIMKMS_ASSIGN_OR_RETURN(storage::AuditCheckpoint head, ctx->store().AuditHead());
    uint64_t chips = 0;
    for (const auto& r : ranges) chips += r.count;
    f.Add("vers", std::to_string(vers.size()));
    f.Add("ranges", std::to_string(ranges.size()));
    f.Add("chips_in_ranges", std::to_string(chips));
    f.Add("subscriber_records", std::to_string(subscribers));
    f.Add("audit_head_seq", std::to_string(head.seq));
  }
  if (g.json) {
    out << f.ToJson().dump(2) << "\n";
  } else {
    f.Print(out);
  }
  return OkStatus();
}

}  // namespace simkms::kmsctl
