// kmsctl's commands. Each parses nothing (main.cc does), does one job, prints a
// table or JSON to `out`, and returns a Status; main maps it to the exit code.
// The registry and audit commands (VERs, ranges, audit show/verify) are the
// engine's table, run by RunAdminCommand; the rest are kmsctl's own, offline.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "tools/kmsctl/context.h"

namespace simkms::kmsctl {

// A command of sc-engine/engine/admin_commands.h with its arguments: through kmsd's
// admin socket when g.admin_socket is set, else offline; prints the result
// (PrintResult). For audit.verify, *chain_ok says whether the chain verified.
Status RunAdminCommand(const GlobalOptions& g, const std::string& command, const nlohmann::ordered_json& args,
                       std::ostream& out, bool* chain_ok);

// `--init-token`: initialise the runtime token and the ceremony token first, each in
// a free slot with its own user PIN (the global and the ceremony PIN source).
struct TokenInitArgs {
  bool init_token = false;
  std::string label = "simkms";
  std::string ceremony_label = "simkms-ceremony";
  std::string so_pin_file;
  std::string ceremony_so_pin_file;  // empty: so_pin_file
};

// The audit epoch seed's one-time export to the auditor (kms/audit_epochs.h).
struct AuditorExportArgs {
  std::string public_key_file;  // the auditor's RSA public key (SPKI PEM)
  std::string out;              // where to write the export file (never overwritten)
};

struct InitArgs {
  TokenInitArgs token;
  int threshold = 3;
  int shares = 5;
  std::string backup_out;  // the MK backup file (required)
  std::string shares_dir;  // one share-<x>.txt per custodian; empty: print them
  AuditorExportArgs auditor;
};
Status RunInit(const GlobalOptions& g, const InitArgs& args, std::ostream& out);

struct RestoreArgs {
  TokenInitArgs token;
  std::string backup_file;
  std::vector<std::string> share_files;
  bool shares_stdin = false;  // one share per line on standard input
  AuditorExportArgs auditor;
};
Status RunRestore(const GlobalOptions& g, const RestoreArgs& args, std::ostream& out);

struct VerAddArgs {
  uint32_t ver = 0;
  std::string profile = "modern";
  std::string dh_group = "ffdhe2048";
  std::string dh_p_file;  // custom group: p in hex (whitespace ignored)
  std::string dh_g = "2";  // custom group: g in hex
  std::string op_file;     // 32 hex digits; absent: generated in the token
  std::string amf = "8000";
  std::string description;
};
// The arguments of the table's ver.add: the files read (OP, a custom group's p)
// and, through kmsd's admin socket, K1 moved from the ceremony token to the
// runtime token first and its KCV as k1_kcv (kmsd has no MK).
StatusOr<nlohmann::ordered_json> VerAddCommandArgs(const GlobalOptions& g, const VerAddArgs& args);

struct ExportK1Args {
  uint32_t ver = 0;
  std::string manufacturer;
  std::string pubkey_file;
  std::string out_file;
};
Status RunVerExportK1(const GlobalOptions& g, const ExportK1Args& args, std::ostream& out);
// The audit event of a custodians' ceremony on this node's token (init, restore,
// ver sync): actor role "custodian", subject "token <label>".
storage::AuditEvent CeremonyEvent(const Context& c, std::string name,
                                  std::vector<std::pair<std::string, std::string>> details);
// `ver sync`: the K1 of every VER that this node's runtime token lacks, moved from
// its ceremony token (a cluster node, after a VER was added on another node).
Status RunVerSync(const GlobalOptions& g, std::ostream& out);

struct RangeAssignArgs {
  std::string manufacturer;
  uint32_t ver = 0;
  std::string iccid_first;
  std::string imsi_first;
  uint32_t mnc_digits = 2;
  uint64_t count = 0;
};

// Sets *chain_ok; a broken chain is reported in `out` and is not an error Status.
struct AuditVerifyArgs {
  // The auditor's offline check, without the token: the auditor's private key and the
  // seed export files of the init ceremony and of every restore since.
  std::string auditor_key_file;
  std::vector<std::string> auditor_seed_files;
  // A witness log (the syslog receiver's file) to compare the closed epochs with.
  std::string witness_file;
  // Every node's chain of a cluster's database (RunAuditVerifyAllNodes).
  bool all_nodes = false;
  // With all_nodes: a chain whose MACs nobody here can check (no seed given) is OK if
  // its links are, instead of "MACS NOT CHECKED".
  bool links_only = false;
};
// With the auditor's key or a witness log (offline only); the plain check is the
// table's audit.verify.
Status RunAuditVerify(const GlobalOptions& g, const AuditVerifyArgs& args, std::ostream& out, bool* chain_ok);
// `audit verify --all-nodes`: every node's chain in the database (PostgreSQL: every
// node with an audit record or a commit marker; RocksDB: node 1), each with the same
// verifier: links, sequence and epochs for every chain; this node's (g.node) also with
// its token (MACs of the open epoch, checkpoint) when a PIN source is given; every
// MAC of every chain whose auditor seed exports are given (a seed is tied to a chain
// by the MAC of its chain-start record). *chain_ok is false when a chain is broken or
// a chain's MACs went unchecked (unless links_only); the output says which per node.
Status RunAuditVerifyAllNodes(const GlobalOptions& g, const AuditVerifyArgs& args, std::ostream& out,
                              bool* chain_ok);
// `audit verify --state`: replays the trail against the live records; sets *state_ok
// (differences are reported in `out`, not as an error Status).
Status RunAuditVerifyState(const GlobalOptions& g, std::ostream& out, bool* state_ok);
// `records seal`: MACs every record of a DB from before record MACs, once the chain
// and the state verify (FailedPrecondition, nothing written, otherwise).
Status RunRecordsSeal(const GlobalOptions& g, std::ostream& out);
// Token labels and KCVs (MK's with the ceremony token); with a database also the
// table's status (counts, audit head).
Status RunStatus(const GlobalOptions& g, std::ostream& out);
// Every token object against kms/token_policy.h; FailedPrecondition on any difference.
Status RunTokenCheck(const GlobalOptions& g, bool ceremony, std::ostream& out);

// `token probe`: whether a token does what the appliance needs, before any key exists
// (kms/token_probe.h). Its own module and URI (default: the global ones), so an
// operator can try a module before configuring anything; the PIN as every command
// takes it (--pin-file, --pin-env). FailedPrecondition naming every required check
// that fails.
struct TokenProbeArgs {
  std::string module;     // empty: the global --module
  std::string uri;        // empty: the global --token
  std::string init_args;  // p11::ModuleOptions::init_args (NSS softoken's configuration)
  bool json = false;      // as the global --json
};
Status RunTokenProbe(const GlobalOptions& g, const TokenProbeArgs& args, std::ostream& out);

// `db migrate`: applies the PostgreSQL schema migrations this build has and the
// database lacks (idempotent), then prints the schema status. `db` is a libpq
// connection string (URI or key=value).
Status RunDbMigrate(const GlobalOptions& g, const std::string& db, std::ostream& out);
// `db status`: the applied migrations and whether the database is at this build's version.
Status RunDbStatus(const GlobalOptions& g, const std::string& db, std::ostream& out);

}  // namespace simkms::kmsctl
