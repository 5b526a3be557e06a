#include <algorithm>
#include <optional>
#include <ostream>

#include "kms/audit_epochs.h"
#include "kms/ceremony.h"
#include "sc-engine/engine/admin_commands.h"
#include "sc-engine/engine/record_json.h"
#include "storage/audit_witness.h"
#include "storage/postgres_engine.h"
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

StatusOr<std::vector<kms::AuditorSeedExport>> ReadSeedExports(const AuditVerifyArgs& args) {
  if (args.auditor_seed_files.empty()) {
    return InvalidArgumentError("--auditor-key needs --auditor-seed FILE (the ceremony's export; repeat for restores)");
  }
  std::vector<kms::AuditorSeedExport> exports;
  for (const std::string& file : args.auditor_seed_files) {
    SIMKMS_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
    auto e = kms::AuditorSeedExport::FromJson(text);
    if (!e.ok()) return e.status().WithContext(file);
    exports.push_back(std::move(e).value());
  }
  return exports;
}

StatusOr<std::unique_ptr<kms::AuditorAuditMac>> OpenAuditorMac(const AuditVerifyArgs& args) {
  SIMKMS_ASSIGN_OR_RETURN(std::string key_pem, ReadFile(args.auditor_key_file));
  SIMKMS_ASSIGN_OR_RETURN(auto exports, ReadSeedExports(args));
  return kms::AuditorAuditMac::Open(exports, key_pem);
}

// One node's chain opened without the token (the auditor's check, or another node's
// chain): read-only, audit records only (no record MAC key: nothing else is read).
StatusOr<std::unique_ptr<storage::Store>> OpenChain(const GlobalOptions& g, uint32_t node, storage::AuditMac& mac,
                                                    storage::AuditCheckpointStore& checkpoints) {
  storage::StoreOptions o;
  o.read_only = true;
  o.create_if_missing = false;
  o.node = node;
  auto opened = storage::Store::Open(g.db, mac, checkpoints, o);
  if (!opened.ok()) return opened.status().WithContext("open database " + storage::Store::DescribeLocation(g.db));
  return std::move(opened).value();
}

// The chain walked with `mac` and its own head as the anchor: without the token's
// checkpoint a truncated tail shows only against the witness (or the node's token).
StatusOr<storage::AuditVerifyReport> VerifyToHead(const storage::Store& store, storage::AuditMac& mac) {
  SIMKMS_ASSIGN_OR_RETURN(storage::AuditCheckpoint head, store.AuditHead());
  return store.VerifyAudit(mac, head.seq > 0 ? std::optional(head) : std::nullopt);
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
    SIMKMS_ASSIGN_OR_RETURN(auditor_store, OpenChain(g, g.node, *auditor, no_checkpoint));
    SIMKMS_ASSIGN_OR_RETURN(report, VerifyToHead(*auditor_store, *auditor));
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

namespace {

// An auditor's seed export, opened on its own, and the node whose chain it starts.
struct NodeSeed {
  std::string file;
  kms::AuditorSeedExport seed;
  std::unique_ptr<kms::AuditorAuditMac> mac;  // this seed alone
  std::vector<uint32_t> starts;               // nodes with a chain start MAC'd under it
};

// The records that start a chain under a new epoch seed: record 1 and every
// chain-restart (the walk checks that they may; here they are only found).
StatusOr<std::vector<storage::AuditRecord>> ChainStarts(const storage::Store& chain) {
  constexpr std::size_t kPage = 4096;
  std::vector<storage::AuditRecord> starts;
  for (uint64_t from = 1;;) {
    SIMKMS_ASSIGN_OR_RETURN(std::vector<storage::AuditRecord> page, chain.ReadAudit(from, kPage));
    for (storage::AuditRecord& r : page) {
      if (r.seq == 1 || r.is_chain_restart()) starts.push_back(std::move(r));
    }
    if (page.size() < kPage) return starts;
    from = page.back().seq + 1;
  }
}

// The seeds whose first epoch key MACs one of `node`'s chain-start records (record
// 1, each chain-restart): the MAC ties a seed to a chain, so nobody has to say which
// file is which node's, and a seed cannot be lent to another node's chain.
// Returns the chain starts no seed MACs.
StatusOr<std::vector<uint64_t>> MatchSeeds(const storage::Store& chain, uint32_t node, std::vector<NodeSeed>& seeds) {
  std::vector<uint64_t> unmatched;
  SIMKMS_ASSIGN_OR_RETURN(std::vector<storage::AuditRecord> starts, ChainStarts(chain));
  for (const storage::AuditRecord& r : starts) {
    const Bytes data = storage::EncodeAuditRecordForMac(r);
    bool matched = false;
    for (NodeSeed& s : seeds) {
      if (s.seed.first_epoch != r.epoch) continue;
      const Status v = s.mac->VerifyInEpoch(r.epoch, /*chain_start=*/true, data, r.mac);
      if (v.ok()) {
        matched = true;
        if (s.starts.empty() || s.starts.back() != node) s.starts.push_back(node);
      } else if (v.code() != StatusCode::kUnauthenticated) {
        return v.WithContext(s.file);
      }
    }
    if (!matched) unmatched.push_back(r.seq);
  }
  return unmatched;
}

std::string JoinSeqs(const std::vector<uint64_t>& seqs) {
  std::string out;
  for (uint64_t s : seqs) out += (out.empty() ? "" : ", ") + std::to_string(s);
  return out;
}

}  // namespace

Status RunAuditVerifyAllNodes(const GlobalOptions& g, const AuditVerifyArgs& args, std::ostream& out,
                              bool* chain_ok) {
  using Json = nlohmann::ordered_json;
  if (g.db.empty()) return InvalidArgumentError("no database: give --db or set SIMKMS_DB");
  if (!args.witness_file.empty()) {
    return InvalidArgumentError("--witness compares one node's epochs: run it per node (--node N), not with --all-nodes");
  }
  const bool with_token = !g.pin_file.empty() || !g.pin_env.empty();
  const bool with_auditor = !args.auditor_key_file.empty();
  if (!with_token && !with_auditor && !args.links_only) {
    return InvalidArgumentError("--all-nodes needs this node's token (--pin-file), the auditor's key (--auditor-key) "
                                "or --links-only");
  }
  std::vector<uint32_t> nodes{1};  // a RocksDB database has one node
  if (storage::IsPostgresLocation(g.db)) {
    auto listed = storage::ListPostgresNodes(g.db);
    if (!listed.ok()) return listed.status().WithContext("list the nodes of " + storage::Store::DescribeLocation(g.db));
    nodes = std::move(listed).value();
  }
  // This node's chain with its own token: MACs of the open epoch, links, checkpoint.
  std::unique_ptr<Context> ctx;
  if (with_token) {
    SIMKMS_ASSIGN_OR_RETURN(ctx, OpenReadOnly(g));
  }
  std::string key_pem;
  std::vector<NodeSeed> seeds;
  if (with_auditor) {
    SIMKMS_ASSIGN_OR_RETURN(key_pem, ReadFile(args.auditor_key_file));
    SIMKMS_ASSIGN_OR_RETURN(auto exports, ReadSeedExports(args));
    for (std::size_t i = 0; i < exports.size(); ++i) {
      auto mac = kms::AuditorAuditMac::Open({exports[i]}, key_pem);
      if (!mac.ok()) return mac.status().WithContext(args.auditor_seed_files[i]);
      seeds.push_back({args.auditor_seed_files[i], exports[i], std::move(mac).value(), {}});
    }
  }

  bool broken = false, incomplete = false;
  Json per_node = Json::array();
  storage::LinksOnlyAuditMac links_only;
  NoCheckpointStore no_checkpoint;
  for (uint32_t node : nodes) {
    Json j;
    j["node"] = node;
    std::vector<std::string> checks;
    std::vector<std::string> notes;
    auto fail = [&](const std::string& check, const storage::AuditVerifyReport& r) {
      broken = true;
      j["result"] = "BROKEN";
      j["failed_check"] = check;
      if (r.first_bad_seq != 0) j["first_bad_seq"] = r.first_bad_seq;
      j["problem"] = r.problem;
    };
    // Every chain: sequence, epochs, chain starts and links, from its own head.
    SIMKMS_ASSIGN_OR_RETURN(auto chain, OpenChain(g, node, links_only, no_checkpoint));
    SIMKMS_ASSIGN_OR_RETURN(storage::AuditVerifyReport links, VerifyToHead(*chain, links_only));
    checks.push_back("links");
    j["records"] = links.last_seq;
    j["last_epoch"] = links.last_epoch;
    if (links.ok && links.last_seq == 0) {
      notes.push_back("no audit records: a node that never committed, or its whole chain was deleted (its token's "
                      "check tells: its checkpoint says where the chain ended)");
    }
    // Every chain whose seeds the auditor gave: every MAC of every epoch. It checks
    // all the links walk does and the MACs, so it decides (and names the first bad
    // record exactly: a changed byte fails its own MAC before the next link).
    std::optional<storage::AuditVerifyReport> full;
    if (with_auditor && links.last_seq > 0) {
      auto matched = MatchSeeds(*chain, node, seeds);
      // A record that no longer decodes: the links walk names it; no seed can be tied.
      if (!matched.ok() && matched.status().code() != StatusCode::kDataLoss) return matched.status();
      const std::vector<uint64_t> unmatched = matched.ok() ? *matched : std::vector<uint64_t>{};
      std::vector<kms::AuditorSeedExport> mine;
      for (const NodeSeed& seed : seeds) {
        if (std::find(seed.starts.begin(), seed.starts.end(), node) != seed.starts.end()) mine.push_back(seed.seed);
      }
      if (!matched.ok()) {
        j["macs"] = "NOT CHECKED: its chain starts cannot be read (" + std::string(matched.status().message()) + ")";
      } else if (!unmatched.empty() || mine.empty()) {
        j["macs"] = "NOT CHECKED: no auditor seed given MACs the chain start at record " +
                    (unmatched.empty() ? std::string("1") : JoinSeqs(unmatched));
      } else {
        SIMKMS_ASSIGN_OR_RETURN(auto auditor, kms::AuditorAuditMac::Open(mine, key_pem));
        SIMKMS_ASSIGN_OR_RETURN(full, VerifyToHead(*chain, *auditor));
        checks.push_back("auditor MACs (every epoch)");
        j["macs"] = "checked, every epoch (" + std::to_string(mine.size()) + " seed" + (mine.size() > 1 ? "s" : "") +
                    ")";
      }
    }
    if (full.has_value() && !full->ok) {
      fail("auditor MACs", *full);
    } else if (!links.ok) {
      fail("links", links);
    }
    // This node's chain with its token, as `audit verify` alone does it: the
    // checkpoint is what shows a truncated tail.
    if (ctx && node == g.node && !j.contains("result")) {
      SIMKMS_ASSIGN_OR_RETURN(storage::AuditVerifyReport own, ctx->store().VerifyAudit());
      checks.push_back("token MACs and checkpoint");
      if (!own.ok) fail("token", own);
      for (const std::string& n : own.notes) notes.push_back("token: " + n);
    }
    if (!j.contains("macs")) {
      j["macs"] = ctx && node == g.node ? "checked with the token (the open epoch; closed epochs need its auditor seed)"
                                        : "NOT CHECKED: no auditor seed given for this node";
    }
    if (!j.contains("result")) {
      const bool macs_missing = j["macs"].get<std::string>().starts_with("NOT CHECKED") && links.last_seq > 0;
      if (macs_missing && !args.links_only) {
        incomplete = true;
        j["result"] = "MACS NOT CHECKED";
      } else {
        j["result"] = macs_missing ? "OK (links only)" : "OK";
      }
    }
    std::string joined;
    for (const std::string& c : checks) joined += (joined.empty() ? "" : ", ") + c;
    j["checks"] = joined;
    j["notes"] = notes;
    per_node.push_back(std::move(j));
  }
  // A seed ties to one node's chain; one that starts two chains means a chain was
  // copied from another node, one that starts none a chain that is gone.
  Json problems = Json::array();
  for (const NodeSeed& s : seeds) {
    if (s.starts.size() > 1) {
      std::string which;
      for (uint32_t n : s.starts) which += (which.empty() ? "" : " and ") + std::to_string(n);
      problems.push_back(s.file + " starts the chains of nodes " + which + ": a chain was copied from another node");
    } else if (s.starts.empty()) {
      problems.push_back(s.file + " starts no node's chain: that node's chain is gone or replaced (or the file is "
                                  "another cluster's)");
    }
  }
  if (!problems.empty()) broken = true;
  Json j;
  j["result"] = broken ? "BROKEN" : incomplete ? "INCOMPLETE" : "OK";
  j["nodes_checked"] = nodes.size();
  if (!problems.empty()) j["problems"] = problems;
  j["nodes"] = per_node;
  *chain_ok = !broken && !incomplete;
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
