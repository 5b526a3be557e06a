// kmsctl: the administrator's CLI for key ceremonies and the VER/range registry.
//
// Exit codes: 0 success; 1 the operation failed (the message says why; nothing
// was changed); 2 bad command line; 3 `audit verify` found a broken chain
// or, with --state, live records that differ from the trail, or, with
// --all-nodes, a node whose MACs could not be checked (INCOMPLETE: no seed given
// for it and no --links-only).
#include <CLI/CLI.hpp>
#include <sys/stat.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <unistd.h>

#include "base/wiped_buffer.h"
#include "tools/kmsctl/commands.h"
#include "tools/kmsctl/context.h"

namespace {

std::string DefaultActor() {
  const char* user = std::getenv("USER");
  return user != nullptr ? user : "uid:" + std::to_string(getuid());
}

void AddTokenInit(CLI::App* cmd, simkms::kmsctl::TokenInitArgs& t) {
  cmd->add_flag("--init-token", t.init_token,
                "initialise the runtime and the ceremony token in free slots first, each with its own user PIN");
  cmd->add_option("--label", t.label, "label of the runtime token to initialise")->capture_default_str();
  cmd->add_option("--ceremony-label", t.ceremony_label, "label of the ceremony token to initialise")
      ->capture_default_str();
  cmd->add_option("--so-pin-file", t.so_pin_file, "file holding the SO PIN (owner-only permissions)");
  cmd->add_option("--ceremony-so-pin-file", t.ceremony_so_pin_file,
                  "file holding the ceremony token's SO PIN (default: --so-pin-file)");
}

void AddAuditorExport(CLI::App* cmd, simkms::kmsctl::AuditorExportArgs& a) {
  cmd->add_option("--auditor-pubkey", a.public_key_file,
                  "the auditor's RSA public key (PEM): the audit epoch seed is exported to it once");
  cmd->add_option("--auditor-out", a.out, "where to write the auditor's seed export file");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace simkms::kmsctl;
  // The DB it creates and the exports and backups it writes are the
  // administrator's alone, whatever the shell's umask (kmsd does the same).
  umask(0077);
  CLI::App app{"kmsctl: key ceremonies and registry of the simkms appliance"};
  app.require_subcommand(1);
  GlobalOptions g;
  g.actor = DefaultActor();
  app.add_option("--module", g.module, "PKCS#11 module")->envname("SIMKMS_MODULE")->capture_default_str();
  app.add_option("--module-init-args", g.module_init_args,
                 "the module's configuration string, passed to C_Initialize (NSS softoken: configdir=...)")
      ->envname("SIMKMS_MODULE_INIT_ARGS");
  app.add_option("--token", g.token, "token, as an RFC 7512 pkcs11: URI")->envname("SIMKMS_TOKEN")->capture_default_str();
  app.add_option("--pin-file", g.pin_file, "file holding the user PIN (owner-only permissions)")
      ->envname("SIMKMS_PIN_FILE");
  app.add_option("--pin-env", g.pin_env, "name of an environment variable holding the user PIN");
  app.add_option("--ceremony-token", g.ceremony_token,
                 "the ceremony token holding MK (init, restore, ver add, export-k1), an RFC 7512 pkcs11: URI")
      ->envname("SIMKMS_CEREMONY_TOKEN")
      ->capture_default_str();
  app.add_option("--ceremony-pin-file", g.ceremony_pin_file,
                 "file holding the ceremony token's user PIN (owner-only permissions)")
      ->envname("SIMKMS_CEREMONY_PIN_FILE");
  app.add_option("--ceremony-pin-env", g.ceremony_pin_env,
                 "name of an environment variable holding the ceremony token's user PIN");
  app.add_option("--db", g.db, "the database: a RocksDB directory, or a cluster's PostgreSQL URI (postgresql://...)")
      ->envname("SIMKMS_DB");
  app.add_option("--node", g.node, "the cluster node this command acts for: its token's audit chain (PostgreSQL)")
      ->envname("SIMKMS_NODE")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  app.add_option("--actor", g.actor, "who is acting, for the audit trail")->capture_default_str();
  app.add_flag("--json", g.json, "JSON output for scripts");
  app.add_option("--admin-socket", g.admin_socket, "run the command through a running kmsd's admin socket")
      ->envname("SIMKMS_ADMIN_SOCKET");

  InitArgs init;
  CLI::App* init_cmd = app.add_subcommand("init", "key ceremony: MK, service keys, M-of-N backup");
  AddTokenInit(init_cmd, init.token);
  init_cmd->add_option("--threshold,-m", init.threshold, "shares needed to restore")->capture_default_str();
  init_cmd->add_option("--shares,-n", init.shares, "number of custodians")->capture_default_str();
  init_cmd->add_option("--backup-out", init.backup_out, "where to write the MK backup file")->required();
  init_cmd->add_option("--shares-dir", init.shares_dir, "write share-<n>.txt files here instead of printing");
  AddAuditorExport(init_cmd, init.auditor);

  RestoreArgs restore;
  CLI::App* restore_cmd = app.add_subcommand("restore", "rebuild the keys on a fresh token from M shares");
  AddTokenInit(restore_cmd, restore.token);
  restore_cmd->add_option("--backup", restore.backup_file, "the MK backup file")->required();
  restore_cmd->add_option("--share-file", restore.share_files, "a custodian's share (repeat)");
  restore_cmd->add_flag("--shares-stdin", restore.shares_stdin, "read shares from standard input, one per line");
  AddAuditorExport(restore_cmd, restore.auditor);

  CLI::App* ver_cmd = app.add_subcommand("ver", "VERs: key profile, DH group, Milenage OP/AMF");
  ver_cmd->require_subcommand(1);
  VerAddArgs ver_add;
  CLI::App* ver_add_cmd = ver_cmd->add_subcommand("add", "create a VER and its K1");
  ver_add_cmd->add_option("--ver", ver_add.ver, "VER number")->required();
  ver_add_cmd->add_option("--profile", ver_add.profile, "legacy (DES K1, weak) or modern (AES-128)")
      ->capture_default_str();
  ver_add_cmd->add_option("--dh-group", ver_add.dh_group, "ffdhe2048, ffdhe3072, p256 or custom")
      ->capture_default_str();
  ver_add_cmd->add_option("--dh-p-file", ver_add.dh_p_file, "custom group: file with p in hex");
  ver_add_cmd->add_option("--dh-g", ver_add.dh_g, "custom group: g in hex")->capture_default_str();
  ver_add_cmd->add_option("--op-file", ver_add.op_file, "file with the 16-byte Milenage OP in hex (else generated)");
  ver_add_cmd->add_option("--amf", ver_add.amf, "Milenage AMF, 4 hex digits")->capture_default_str();
  ver_add_cmd->add_option("--description", ver_add.description, "free text");
  ver_cmd->add_subcommand("list", "list VERs");
  uint32_t show_ver = 0;
  ver_cmd->add_subcommand("show", "show one VER")->add_option("--ver", show_ver, "VER number")->required();
  uint32_t policy_ver = 0;
  std::string policy_code;
  CLI::App* policy_cmd = ver_cmd->add_subcommand(
      "policy", "activation-code policy of new contracts (relaxing lets a K1 holder take over code-less first calls)");
  policy_cmd->add_option("--ver", policy_ver, "VER number")->required();
  policy_cmd->add_option("--activation-code", policy_code, "required (the default) or optional")
      ->required()
      ->check(CLI::IsMember({"required", "optional"}));
  uint32_t rekey_ver = 0, rekey_per_second = 0, rekey_per_day = 0;
  uint64_t rekey_max_age = 0;
  CLI::App* rekey_cmd = ver_cmd->add_subcommand(
      "rekey-policy", "regular re-key: kmsd asks for a new Ki_2 once a subscriber's Ki_2 is this old (0 0 0: none)");
  rekey_cmd->add_option("--ver", rekey_ver, "VER number")->required();
  rekey_cmd->add_option("--max-age", rekey_max_age, "maximum Ki_2 age in seconds (0: no policy)")->required();
  rekey_cmd->add_option("--per-second", rekey_per_second, "re-key requests per second for the VER")->required();
  rekey_cmd->add_option("--per-day", rekey_per_day, "re-key requests per UTC day for the VER")->required();
  CLI::App* sync_cmd = ver_cmd->add_subcommand(
      "sync", "move the K1 of every VER this token lacks from the ceremony token (cluster nodes; offline)");
  ExportK1Args export_args;
  CLI::App* export_cmd = ver_cmd->add_subcommand("export-k1", "K1 wrapped for a manufacturer (RSA-OAEP)");
  export_cmd->add_option("--ver", export_args.ver, "VER number")->required();
  export_cmd->add_option("--manufacturer", export_args.manufacturer, "manufacturer name")->required();
  export_cmd->add_option("--pubkey", export_args.pubkey_file, "manufacturer's RSA public key (PEM)")->required();
  export_cmd->add_option("--out", export_args.out_file, "export file to write")->required();

  CLI::App* range_cmd = app.add_subcommand("range", "manufacturer ICCID/IMSI ranges");
  range_cmd->require_subcommand(1);
  RangeAssignArgs range_args;
  CLI::App* assign_cmd = range_cmd->add_subcommand("assign", "assign ICCID and IMSI ranges, 1:1 by position");
  assign_cmd->add_option("--manufacturer", range_args.manufacturer, "manufacturer name")->required();
  assign_cmd->add_option("--ver", range_args.ver, "VER of the chips")->required();
  assign_cmd->add_option("--iccid-first", range_args.iccid_first, "first ICCID, 19 or 20 digits with Luhn digit")
      ->required();
  assign_cmd->add_option("--imsi-first", range_args.imsi_first, "first IMSI, 15 digits")->required();
  assign_cmd->add_option("--mnc-digits", range_args.mnc_digits, "length of the IMSI's MNC (2 or 3)")
      ->capture_default_str();
  assign_cmd->add_option("--count", range_args.count, "number of chips")->required();
  range_cmd->add_subcommand("list", "list ranges");

  CLI::App* audit_cmd = app.add_subcommand("audit", "the audit trail");
  audit_cmd->require_subcommand(1);
  AuditVerifyArgs verify_args;
  CLI::App* verify_cmd = audit_cmd->add_subcommand("verify", "check the MAC chain and the checkpoint");
  verify_cmd->add_option("--auditor-key", verify_args.auditor_key_file,
                         "the auditor's RSA private key (PEM): check every epoch offline, without the token");
  verify_cmd->add_option("--auditor-seed", verify_args.auditor_seed_files,
                         "an audit seed export file (repeat: the init ceremony's and each restore's)");
  verify_cmd->add_option("--witness", verify_args.witness_file,
                         "the syslog receiver's log file: compare the closed epochs with their witnessed heads");
  CLI::Option* all_nodes_flag = verify_cmd->add_flag("--all-nodes", verify_args.all_nodes,
                       "every node's chain of the cluster's database (offline): links for all, this node's token "
                       "checks, MACs of every node whose --auditor-seed is given");
  verify_cmd
      ->add_flag("--links-only", verify_args.links_only,
                 "with --all-nodes: a node whose MACs cannot be checked (no seed) is OK if its links are")
      ->needs(all_nodes_flag);
  bool verify_state = false;
  verify_cmd->add_flag("--state", verify_state,
                       "also replay the trail and check that every live record is what it implies (offline)");
  CLI::App* records_cmd = app.add_subcommand("records", "the live records");
  records_cmd->require_subcommand(1);
  CLI::App* seal_cmd = records_cmd->add_subcommand(
      "seal", "one-time migration: MAC every record of a DB from before record MACs (offline)");
  uint64_t audit_from = 1;
  uint64_t audit_limit = 100;
  CLI::App* show_cmd = audit_cmd->add_subcommand("show", "print audit records");
  show_cmd->add_option("--from", audit_from, "first sequence number")->capture_default_str();
  show_cmd->add_option("--limit", audit_limit, "at most this many records")->capture_default_str();

  app.add_subcommand("status", "token KCVs and registry counts");

  CLI::App* db_cmd = app.add_subcommand("db", "the PostgreSQL database of a cluster: schema migrations");
  db_cmd->require_subcommand(1);
  std::string db_uri;
  CLI::App* migrate_cmd = db_cmd->add_subcommand("migrate", "apply the schema migrations the database lacks");
  migrate_cmd->add_option("--db", db_uri, "libpq connection string (postgresql://... or key=value)")
      ->envname("SIMKMS_DB")
      ->required();
  CLI::App* db_status_cmd = db_cmd->add_subcommand("status", "the schema version and the applied migrations");
  db_status_cmd->add_option("--db", db_uri, "libpq connection string (postgresql://... or key=value)")
      ->envname("SIMKMS_DB")
      ->required();

  CLI::App* token_cmd = app.add_subcommand("token", "the token's objects and what it can do");
  token_cmd->require_subcommand(1);
  bool check_ceremony = false;
  token_cmd->add_subcommand("check", "every object's attributes against the token policy (exit 1 on a difference)")
      ->add_flag("--ceremony", check_ceremony, "check the ceremony token (MK's) instead of the runtime token");
  TokenProbeArgs probe_args;
  CLI::App* probe_cmd = token_cmd->add_subcommand(
      "probe", "does the token do what the appliance needs? (before any key exists; exit 1 if a required check fails)");
  probe_cmd->add_option("--module", probe_args.module, "PKCS#11 module to probe (default: the global --module)");
  probe_cmd->add_option("--uri", probe_args.uri, "token to probe, an RFC 7512 pkcs11: URI (default: the global --token)");
  probe_cmd->add_option("--module-init-args", probe_args.init_args,
                        "string passed to C_Initialize as pReserved (NSS softoken: its configdir and flags)");
  probe_cmd->add_flag("--json", probe_args.json, "JSON output for scripts");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  simkms::Status status;
  bool chain_ok = true;
  std::string what;
  std::ostream& out = std::cout;
  // The registry and audit commands: the engine's table, offline or through kmsd's
  // admin socket, with the same arguments either way.
  using Json = nlohmann::ordered_json;
  std::string command;
  Json args = Json::object();
  if (ver_cmd->parsed() && ver_add_cmd->parsed()) {
    command = "ver.add";
  } else if (ver_cmd->parsed() && ver_cmd->get_subcommand("list")->parsed()) {
    command = "ver.list";
  } else if (ver_cmd->parsed() && ver_cmd->get_subcommand("show")->parsed()) {
    command = "ver.show";
    args = {{"ver", show_ver}};
  } else if (ver_cmd->parsed() && policy_cmd->parsed()) {
    command = "ver.policy";
    args = {{"ver", policy_ver}, {"activation_code", policy_code}};
  } else if (ver_cmd->parsed() && rekey_cmd->parsed()) {
    command = "ver.rekey-policy";
    args = {{"ver", rekey_ver}, {"max_ki2_age_seconds", rekey_max_age}, {"per_second", rekey_per_second},
            {"per_day", rekey_per_day}};
  } else if (range_cmd->parsed() && assign_cmd->parsed()) {
    command = "range.assign";
    args = {{"manufacturer", range_args.manufacturer}, {"ver", range_args.ver},
            {"iccid_first", range_args.iccid_first}, {"imsi_first", range_args.imsi_first},
            {"count", range_args.count}, {"mnc_digits", range_args.mnc_digits}};
  } else if (range_cmd->parsed()) {
    command = "range.list";
  } else if (audit_cmd->parsed() && show_cmd->parsed()) {
    command = "audit.show";
    args = {{"from", audit_from}, {"limit", audit_limit}};
  } else if (audit_cmd->parsed() && verify_args.auditor_key_file.empty() && verify_args.witness_file.empty() &&
             !verify_args.all_nodes && !(verify_state && !g.admin_socket.empty())) {
    command = "audit.verify";
  } else if (app.got_subcommand("status") && !g.admin_socket.empty()) {
    command = "status";
  }
  if (!command.empty()) {
    if (command == "ver.add") {
      auto ver_args = VerAddCommandArgs(g, ver_add);
      if (!ver_args.ok()) {
        std::cerr << "kmsctl ver add: " << ver_args.status().ToString() << "\n";
        return 1;
      }
      args = std::move(ver_args).value();
    }
    std::optional<simkms::WipeOnExit<std::string>> wipe_op;  // a VER's OP, read from --op-file
    if (args.contains("op") && args["op"].is_string()) wipe_op.emplace(args["op"].get_ref<std::string&>());
    status = RunAdminCommand(g, command, args, out, &chain_ok);
    // `audit verify --state` (offline): the live records against the trail, after the chain.
    if (status.ok() && command == "audit.verify" && verify_state) {
      bool state_ok = true;
      status = RunAuditVerifyState(g, out, &state_ok);
      chain_ok = chain_ok && state_ok;
    }
    if (!status.ok()) {
      std::cerr << "kmsctl " << command << ": " << status.ToString() << "\n";
      return 1;
    }
    return chain_ok ? 0 : 3;
  }
  if (!g.admin_socket.empty()) {
    // Ceremonies, exports and the checks that need the token's own files stay offline.
    std::cerr << "kmsctl: this command runs offline only (stop kmsd, or omit --admin-socket)\n";
    return 2;
  }
  if (db_cmd->parsed()) {
    what = migrate_cmd->parsed() ? "db migrate" : "db status";
    status = migrate_cmd->parsed() ? RunDbMigrate(g, db_uri, out) : RunDbStatus(g, db_uri, out);
  } else if (init_cmd->parsed()) {
    what = "init";
    status = RunInit(g, init, out);
  } else if (restore_cmd->parsed()) {
    what = "restore";
    status = RunRestore(g, restore, out);
  } else if (ver_cmd->parsed() && sync_cmd->parsed()) {
    what = "ver sync";
    status = RunVerSync(g, out);
  } else if (ver_cmd->parsed()) {
    what = "ver";
    status = RunVerExportK1(g, export_args, out);
  } else if (audit_cmd->parsed() && verify_args.all_nodes) {
    what = "audit verify --all-nodes";
    if (verify_state) {
      std::cerr << "kmsctl: --state replays one node's chain; with --all-nodes it is not supported yet "
                   "(docs/storage-format.md \"Cluster-wide verification\")\n";
      return 2;
    }
    status = RunAuditVerifyAllNodes(g, verify_args, out, &chain_ok);
  } else if (audit_cmd->parsed()) {
    what = "audit";
    status = RunAuditVerify(g, verify_args, out, &chain_ok);
    bool state_ok = true;
    if (status.ok() && verify_state) status = RunAuditVerifyState(g, out, &state_ok);
    chain_ok = chain_ok && state_ok;
  } else if (records_cmd->parsed()) {
    what = "records";
    (void)seal_cmd;
    status = RunRecordsSeal(g, out);
  } else if (token_cmd->parsed() && probe_cmd->parsed()) {
    what = "token probe";
    status = RunTokenProbe(g, probe_args, out);
  } else if (token_cmd->parsed()) {
    what = "token check";
    status = RunTokenCheck(g, check_ceremony, out);
  } else {
    what = "status";
    status = RunStatus(g, out);
  }
  if (!status.ok()) {
    std::cerr << "kmsctl " << what << ": " << status.ToString() << "\n";
    return 1;
  }
  return chain_ok ? 0 : 3;
}
