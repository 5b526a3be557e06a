#include <ostream>

#include "kms/audit_epochs.h"
#include "kms/ceremony.h"
#include "sc-engine/engine/admin_commands.h"
#include "sc-engine/engine/record_json.h"
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
    o.node = g.node;
    auto opened = storage::Store::Open(g.db, *auditor, no_checkpoint, o);
    if (!opened.ok()) return opened.status().WithContext("open database " + storage::Store::DescribeLocation(g.db));
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
  nlohmann::ordered_json j = sc::AuditVerifyJson(report);
  if (!args.witness_file.empty()) j["witnessed_epochs_matched"] = witness.epochs_matched;
  PrintResult(j, g.json, out);
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
  nlohmann::ordered_json j;
  j["token"] = ctx->token_label();
  if (with_ceremony) j["ceremony_token"] = ctx->ceremony_label();
  if (!with_ceremony) j["kcv.mk"] = "(on the ceremony token: give --ceremony-pin-file)";
  j.update(sc::KcvJson(kcvs));
  if (!g.db.empty()) {
    // Counts and the audit head: the table's status, as kmsd answers it.
    SIMKMS_RETURN_IF_ERROR(ctx->OpenStore(/*read_only=*/true));
    sc::AdminCommands commands(ctx->store(), ctx->keys());
    SIMKMS_ASSIGN_OR_RETURN(nlohmann::ordered_json counts, commands.Run(ctx->session(), ctx->actor(), "status", {}));
    j.update(counts);
  }
  PrintResult(j, g.json, out);
  return OkStatus();
}

}  // namespace simkms::kmsctl
