#include <ostream>

#include "kms/audit_epochs.h"
#include "kms/ceremony.h"
#include "storage/audit_witness.h"
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

namespace {

// The auditor's check runs without the token, so without its checkpoint: the head of
// the DB is taken as the anchor (a truncated tail is then the witness's to show).
class NoCheckpointStore : public storage::AuditCheckpointStore {
 public:
  StatusOr<std::optional<storage::AuditCheckpoint>> Read() override {
    return FailedPreconditionError("the auditor's check has no token checkpoint");
  }
  Status Write(const storage::AuditCheckpoint&) override {
    return FailedPreconditionError("the auditor's check writes nothing");
  }
};

StatusOr<std::unique_ptr<kms::AuditorAuditMac>> OpenAuditorMac(const AuditVerifyArgs& args) {
  if (args.auditor_seed_files.empty()) {
    return InvalidArgumentError("--auditor-key needs --auditor-seed FILE (the ceremony's export; repeat for restores)");
  }
  SIMKMS_ASSIGN_OR_RETURN(std::string key_pem, ReadFile(args.auditor_key_file));
  std::vector<kms::AuditorSeedExport> exports;
  for (const std::string& file : args.auditor_seed_files) {
    SIMKMS_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
    auto e = kms::AuditorSeedExport::FromJson(text);
    if (!e.ok()) return e.status().WithContext(file);
    exports.push_back(std::move(e).value());
  }
  return kms::AuditorAuditMac::Open(exports, key_pem);
}

}  // namespace

Status RunAuditVerify(const GlobalOptions& g, const AuditVerifyArgs& args, std::ostream& out, bool* chain_ok) {
  std::unique_ptr<Context> ctx;
  std::unique_ptr<kms::AuditorAuditMac> auditor;
  NoCheckpointStore no_checkpoint;
  std::unique_ptr<storage::Store> auditor_store;
  storage::AuditVerifyReport report;
  if (!args.auditor_key_file.empty()) {
    if (g.db.empty()) return InvalidArgumentError("no database directory: give --db or set SIMKMS_DB");
    SIMKMS_ASSIGN_OR_RETURN(auditor, OpenAuditorMac(args));
    storage::StoreOptions o;
    o.read_only = true;
    o.create_if_missing = false;
    auto opened = storage::Store::Open(g.db, *auditor, no_checkpoint, o);
    if (!opened.ok()) return opened.status().WithContext("open database " + g.db);
    auditor_store = std::move(opened).value();
    SIMKMS_ASSIGN_OR_RETURN(storage::AuditCheckpoint head, auditor_store->AuditHead());
    SIMKMS_ASSIGN_OR_RETURN(report, auditor_store->VerifyAudit(*auditor, head.seq > 0 ? std::optional(head)
                                                                                      : std::nullopt));
    if (report.ok) {
      report.notes.push_back("checked offline with the auditor's key: every epoch's MACs; without the token's "
                             "checkpoint a truncated tail shows only against the witness");
    }
  } else {
    SIMKMS_ASSIGN_OR_RETURN(ctx, OpenReadOnly(g));
    SIMKMS_ASSIGN_OR_RETURN(report, ctx->store().VerifyAudit());
  }
  storage::WitnessComparison witness;
  if (!args.witness_file.empty() && report.ok) {
    SIMKMS_ASSIGN_OR_RETURN(std::string log, ReadFile(args.witness_file));
    witness = storage::CompareWithWitness(report.closed_epochs, report.last_seq, storage::ParseWitnessLog(log));
    if (!witness.ok) {
      report.ok = false;
      report.problem = "witness: " + witness.problems.front();
    }
    for (const std::string& n : witness.notes) report.notes.push_back("witness: " + n);
  }
  *chain_ok = report.ok;
  Fields f;
  f.Add("result", report.ok ? "OK" : "BROKEN");
  f.Add("records_checked", std::to_string(report.records_checked));
  f.Add("last_seq", std::to_string(report.last_seq));
  f.Add("last_epoch", std::to_string(report.last_epoch));
  f.Add("closed_epochs", std::to_string(report.closed_epochs.size()));
  f.Add("macs_unchecked", std::to_string(report.macs_unchecked));
  if (!args.witness_file.empty()) f.Add("witnessed_epochs_matched", std::to_string(witness.epochs_matched));
  if (!report.ok) {
    if (report.first_bad_seq != 0) f.Add("first_bad_seq", std::to_string(report.first_bad_seq));
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
  // MK's KCV only with the ceremony token's PIN (a custodian's status): kmsd's
  // account does not have it.
  const bool with_ceremony = !g.ceremony_pin_file.empty() || !g.ceremony_pin_env.empty();
  if (with_ceremony) SIMKMS_RETURN_IF_ERROR(ctx->OpenCeremonyToken());
  SIMKMS_ASSIGN_OR_RETURN(kms::KeyKcvs kcvs,
                          with_ceremony ? kms::ReadKcvs(ctx->session(), ctx->keys(), &ctx->ceremony_session(),
                                                        ctx->ceremony().mk())
                                        : kms::ReadKcvs(ctx->session(), ctx->keys()));
  Fields f;
  f.Add("token", ctx->token_label());
  if (with_ceremony) f.Add("ceremony_token", ctx->ceremony_label());
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
