#include <filesystem>
#include <iostream>
#include <sstream>

#include "kms/ceremony.h"
#include "storage/postgres_engine.h"
#include "tools/kmsctl/commands.h"
#include "tools/kmsctl/output.h"

namespace simkms::kmsctl {
namespace {

// Both tokens, each with its own user PIN.
Status MaybeInitTokens(const GlobalOptions& g, const TokenInitArgs& t) {
  if (!t.init_token) return OkStatus();
  if (t.so_pin_file.empty()) return InvalidArgumentError("--init-token needs --so-pin-file");
  if (t.label == t.ceremony_label) {
    return InvalidArgumentError("the runtime and the ceremony token need different labels, both are '" + t.label +
                                "'");
  }
  SIMKMS_RETURN_IF_ERROR(InitToken(g, t.label, t.so_pin_file, {g.pin_file, g.pin_env}));
  return InitToken(g, t.ceremony_label, t.ceremony_so_pin_file.empty() ? t.so_pin_file : t.ceremony_so_pin_file,
                   {g.ceremony_pin_file, g.ceremony_pin_env});
}

GlobalOptions ForLabel(GlobalOptions g, const TokenInitArgs& t) {
  if (t.init_token) {
    g.token = "pkcs11:token=" + t.label;
    g.ceremony_token = "pkcs11:token=" + t.ceremony_label;
  }
  return g;
}

Status RefuseUsedDatabase(const std::string& db) {
  // A cluster's PostgreSQL database is shared: node 1's init ceremony starts its
  // chain there, the other nodes join by the restore ceremony (docs/operations.md
  // "Cluster"); the store refuses a node whose chain is not its token's.
  if (storage::IsPostgresLocation(db)) return OkStatus();
  std::error_code ec;
  if (!db.empty() && std::filesystem::exists(db, ec) && !std::filesystem::is_empty(db, ec)) {
    return FailedPreconditionError("database " + db + " already exists: a ceremony starts with an empty one");
  }
  return OkStatus();
}

std::vector<std::pair<std::string, std::string>> KcvDetails(const kms::KeyKcvs& k) {
  return {{"mk_kcv", ToHex(k.mk)},
          {"storage_kek_kcv", ToHex(k.storage_kek)},
          {"puk_key_kcv", ToHex(k.puk_encryption)},
          {"op_key_kcv", ToHex(k.op_encryption)},
          {"record_key_kcv", ToHex(k.record_mac)}};
}

// The auditor's seed export: both options or neither; the file is never overwritten.
Status CheckAuditorExportArgs(const AuditorExportArgs& a, std::string* public_key_pem) {
  if (a.public_key_file.empty() != a.out.empty()) {
    return InvalidArgumentError("--auditor-pubkey and --auditor-out go together");
  }
  if (a.public_key_file.empty()) return OkStatus();
  if (std::filesystem::exists(a.out)) return FailedPreconditionError("auditor export file " + a.out + " already exists");
  SIMKMS_ASSIGN_OR_RETURN(*public_key_pem, ReadFile(a.public_key_file));
  return OkStatus();
}

Status WriteAuditorExport(const AuditorExportArgs& a, const kms::InitResult& result, Fields& f) {
  if (!result.auditor_export.has_value()) {
    f.Add("auditor_export", "none: closed audit epochs can be checked by no one (give --auditor-pubkey)");
    return OkStatus();
  }
  SIMKMS_RETURN_IF_ERROR(WritePrivateFile(a.out, result.auditor_export->ToJson()));
  f.Add("auditor_export", a.out);
  f.Add("auditor_seed_check", ToHex(result.auditor_export->seed_check));
  f.Add("audit_first_epoch", std::to_string(result.auditor_export->first_epoch));
  return OkStatus();
}

}  // namespace

storage::AuditEvent CeremonyEvent(const Context& c, std::string name,
                                  std::vector<std::pair<std::string, std::string>> details) {
  storage::AuditEvent e;
  e.time_ms = kms::SystemClockMs();
  e.actor_role = "custodian";
  e.actor_identity = c.options().actor;
  e.event = std::move(name);
  e.subject = "token " + c.token_label();
  e.details = std::move(details);
  return e;
}

Status RunInit(const GlobalOptions& g, const InitArgs& args, std::ostream& out) {
  if (args.backup_out.empty()) return InvalidArgumentError("init needs --backup-out FILE for the MK backup");
  if (std::filesystem::exists(args.backup_out)) {
    return FailedPreconditionError("backup file " + args.backup_out + " already exists");
  }
  SIMKMS_RETURN_IF_ERROR(RefuseUsedDatabase(g.db));
  std::string auditor_pem;
  SIMKMS_RETURN_IF_ERROR(CheckAuditorExportArgs(args.auditor, &auditor_pem));
  SIMKMS_RETURN_IF_ERROR(MaybeInitTokens(g, args.token));
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, Context::Open(ForLabel(g, args.token)));
  SIMKMS_RETURN_IF_ERROR(ctx->OpenCeremonyToken(/*find_mk=*/false));
  SIMKMS_ASSIGN_OR_RETURN(kms::InitResult result,
                          kms::InitializeKeys({ctx->ceremony_session(), ctx->session()}, ctx->token_label(),
                                              args.threshold, args.shares, kms::SystemClockMs(), auditor_pem));
  SIMKMS_RETURN_IF_ERROR(WritePrivateFile(args.backup_out, result.backup.ToJson()));
  Fields f;
  SIMKMS_RETURN_IF_ERROR(WriteAuditorExport(args.auditor, result, f));
  if (!args.shares_dir.empty()) {
    std::filesystem::create_directories(args.shares_dir);
    for (std::size_t i = 0; i < result.shares.size(); ++i) {
      SIMKMS_RETURN_IF_ERROR(WritePrivateFile(
          (std::filesystem::path(args.shares_dir) / ("share-" + std::to_string(i + 1) + ".txt")).string(),
          result.shares[i] + "\n"));
    }
  }
  SIMKMS_RETURN_IF_ERROR(ctx->LoadKeys());
  SIMKMS_RETURN_IF_ERROR(ctx->OpenStore());
  auto details = KcvDetails(result.kcvs);
  details.push_back({"ceremony_token", ctx->ceremony_label()});
  details.push_back({"threshold", std::to_string(args.threshold)});
  details.push_back({"shares", std::to_string(args.shares)});
  details.push_back({"share_set", result.backup.share_set});
  if (result.auditor_export.has_value()) {
    details.push_back({"auditor_seed_check", ToHex(result.auditor_export->seed_check)});
  }
  SIMKMS_RETURN_IF_ERROR(ctx->store().Commit(storage::WriteSet(), CeremonyEvent(*ctx, "kms.init", details)));

  f.Add("token", ctx->token_label());
  f.Add("ceremony_token", ctx->ceremony_label());
  AddKcvFields(result.kcvs, f);
  f.Add("backup_file", args.backup_out);
  f.Add("backup_kek_kcv", ToHex(result.backup.backup_kek_kcv));
  f.Add("share_set", result.backup.share_set);
  f.Add("threshold", std::to_string(args.threshold) + " of " + std::to_string(args.shares));
  if (g.json) {
    auto j = f.ToJson();
    if (args.shares_dir.empty()) j["shares"] = result.shares;
    out << j.dump(2) << "\n";
    return OkStatus();
  }
  f.Print(out);
  if (args.shares_dir.empty()) {
    out << "\nCustodian shares (hand each to its custodian; any " << args.threshold << " restore MK):\n";
    for (std::size_t i = 0; i < result.shares.size(); ++i) {
      out << "  custodian " << (i + 1) << ": " << result.shares[i] << "\n";
    }
  } else {
    out << "shares written to " << args.shares_dir << "/share-<n>.txt (one per custodian)\n";
  }
  return OkStatus();
}

Status RunRestore(const GlobalOptions& g, const RestoreArgs& args, std::ostream& out) {
  SIMKMS_ASSIGN_OR_RETURN(std::string backup_text, ReadFile(args.backup_file));
  SIMKMS_ASSIGN_OR_RETURN(kms::BackupFile backup, kms::BackupFile::FromJson(backup_text));
  std::vector<std::string> shares;
  for (const std::string& f : args.share_files) {
    SIMKMS_ASSIGN_OR_RETURN(std::string s, ReadFile(f));
    shares.push_back(s);
  }
  if (args.shares_stdin) {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.find_first_not_of(" \t\r") != std::string::npos) shares.push_back(line);
    }
  }
  if (shares.empty()) return InvalidArgumentError("no shares given (--share-file or --shares-stdin)");
  std::string auditor_pem;
  SIMKMS_RETURN_IF_ERROR(CheckAuditorExportArgs(args.auditor, &auditor_pem));
  SIMKMS_RETURN_IF_ERROR(MaybeInitTokens(g, args.token));
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, Context::Open(ForLabel(g, args.token)));
  SIMKMS_RETURN_IF_ERROR(ctx->OpenCeremonyToken(/*find_mk=*/false));

  // The audit epoch keys are not restored (the seed is not derived from MK): the old
  // chain's keys died with the old token. Its links, sequence and epochs are checked
  // here (its MACs only the auditor can check), and the new token's seed starts a new
  // epoch chain past its end, linked to its head by an audit.chain-restart record.
  Fields f;
  storage::AuditCheckpoint head{0, Bytes(storage::kAuditHashSize, 0)};
  uint64_t old_epoch = 0;
  uint64_t first_epoch = 0;
  // A RocksDB directory copied from the old appliance, or a cluster's database (this
  // node's chain: empty when the node joins, else the one it continues).
  const bool restored_db =
      !g.db.empty() && (storage::IsPostgresLocation(g.db) || std::filesystem::exists(g.db));
  if (restored_db) {
    storage::LinksOnlyAuditMac links_only;
    SIMKMS_RETURN_IF_ERROR(ctx->OpenStore(/*read_only=*/true, &links_only));
    SIMKMS_ASSIGN_OR_RETURN(head, ctx->store().AuditHead());
    SIMKMS_ASSIGN_OR_RETURN(storage::AuditVerifyReport report,
                            ctx->store().VerifyAudit(links_only, head.seq > 0 ? std::optional(head) : std::nullopt));
    if (!report.ok) return DataLossError("the database's audit chain is broken: " + report.problem);
    if (head.seq > 0) {
      SIMKMS_ASSIGN_OR_RETURN(auto last, ctx->store().ReadAudit(head.seq, 1));
      if (last.empty()) return DataLossError("the database's audit head vanished while it was read");
      old_epoch = last.front().epoch;
      first_epoch = (last.front().is_epoch_close() ? old_epoch + 1 : old_epoch) + 1;
    }
    ctx->CloseStore();
    f.Add("audit_records_linked", std::to_string(report.records_checked));
  }
  SIMKMS_ASSIGN_OR_RETURN(kms::InitResult result,
                          kms::RestoreKeys({ctx->ceremony_session(), ctx->session()}, backup, shares, first_epoch,
                                           auditor_pem, kms::SystemClockMs()));
  SIMKMS_RETURN_IF_ERROR(ctx->LoadKeys());
  SIMKMS_RETURN_IF_ERROR(ctx->OpenCeremonyToken());  // now with the restored MK
  f.Add("token", ctx->token_label());
  f.Add("ceremony_token", ctx->ceremony_label());
  AddKcvFields(result.kcvs, f);
  SIMKMS_RETURN_IF_ERROR(WriteAuditorExport(args.auditor, result, f));
  if (!g.db.empty()) {
    if (head.seq > 0) SIMKMS_RETURN_IF_ERROR(ctx->checkpoints().Write(head));
    SIMKMS_RETURN_IF_ERROR(ctx->OpenStore());
    if (head.seq > 0) {
      std::vector<std::pair<std::string, std::string>> link{{"previous_head_seq", std::to_string(head.seq)},
                                                            {"previous_epoch", std::to_string(old_epoch)},
                                                            {"first_epoch", std::to_string(first_epoch)}};
      if (result.auditor_export.has_value()) {
        link.push_back({"auditor_seed_check", ToHex(result.auditor_export->seed_check)});
      }
      SIMKMS_RETURN_IF_ERROR(ctx->store().Commit(
          storage::WriteSet(), CeremonyEvent(*ctx, storage::kAuditChainRestartEvent, std::move(link))));
    }
    kms::Registry registry = ctx->MakeRegistry();
    SIMKMS_ASSIGN_OR_RETURN(std::size_t vers, registry.RederiveAllK1());
    auto details = KcvDetails(result.kcvs);
    details.push_back({"share_set", backup.share_set});
    details.push_back({"vers_rederived", std::to_string(vers)});
    details.push_back({"audit_anchor_seq", std::to_string(head.seq)});
    SIMKMS_RETURN_IF_ERROR(ctx->store().Commit(storage::WriteSet(), CeremonyEvent(*ctx, "kms.restore", details)));
    f.Add("vers_rederived", std::to_string(vers));
  }
  if (g.json) {
    out << f.ToJson().dump(2) << "\n";
  } else {
    f.Print(out);
  }
  return OkStatus();
}

}  // namespace simkms::kmsctl
