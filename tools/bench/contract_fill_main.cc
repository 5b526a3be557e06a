// contract-fill: contracts a run of consecutive ICCIDs in-process, through the
// code kmsd runs for POST /v1/contracts -- sc::SubscriberRegistry::Contract on a
// storage::Store opened from kmsd's own configuration file as kmsd opens it (its
// token, audit MAC, audit checkpoints and record MAC keys in the token, the
// database and node of the config) -- only without HTTP. Every contract is one
// Store::Commit of the subscriber with its audit record, as over the API; the
// Store's writer groups the commits of the --threads workers into one transaction
// per group (group commit), so the groups grow with the threads. The records are
// therefore the records kmsd writes: sealed with the token's record MAC, chained
// and MAC'd in the audit trail; `kmsctl audit verify` checks them.
//
// For filling large benchmark databases (scripts/bench-scale.sh --filler
// contract-fill), where the HTTP round trips would take hours; run it while kmsd
// is stopped (a node's writer is one process). The order id of ICCID x is
// "<prefix>-<x>" as with contract-load, so either can resume the other's fill.
//
//   contract-fill --config kmsd.json --iccid-first ICCID --count N [--threads T] [--seconds S] [--json]
//
// --seconds: no new contract is started after S seconds; those started finish, so
// the ICCIDs contracted are still the first "contracted" of the run, consecutive
// (a fill bounded in time; the JSON says "stopped_at_deadline").
// Exit 0 when every ICCID was contracted (or was already, by the same order) or
// the deadline stopped a fill without errors, 1 when some failed, 2 on a usage
// error or when the store cannot be opened.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "kms/token_audit.h"
#include "kms/token_keys.h"
#include "kms/token_record_mac.h"
#include "pkcs11/module.h"
#include "pkcs11/pin.h"
#include "pkcs11/session_pool.h"
#include "pkcs11/uri.h"
#include "sc-engine/daemon/config.h"
#include "sc-engine/engine/subscriber_registry.h"
#include "storage/identifiers.h"
#include "storage/store.h"

namespace simkms::bench {
namespace {

struct Options {
  std::string config;
  std::string iccid_first;
  std::size_t count = 0;
  std::size_t threads = 128;
  std::string order_prefix = "load";
  double progress_seconds = 0;
  double seconds = 0;  // 0: no deadline
  bool json = false;
};

// What kmsd opens before it serves a contract (sc-engine/daemon/daemon.cc), from its config.
struct Appliance {
  std::shared_ptr<p11::Module> module;
  std::unique_ptr<p11::SessionPool> sessions;
  std::unique_ptr<p11::Session> control;
  kms::ServiceKeys keys;
  std::unique_ptr<kms::TokenAuditMac> audit_mac;
  std::unique_ptr<kms::TokenCheckpointStore> checkpoints;
  std::unique_ptr<kms::TokenRecordMac> record_mac;
  std::unique_ptr<storage::Store> store;
};

StatusOr<std::unique_ptr<Appliance>> OpenAppliance(const daemon::Config& c, std::size_t sessions) {
  auto a = std::make_unique<Appliance>();
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes pin, p11::ReadPin({c.pin_file, ""}));
  SIMKMS_ASSIGN_OR_RETURN(a->module, p11::Module::Load(c.module, {.init_args = c.module_init_args}));
  SIMKMS_ASSIGN_OR_RETURN(p11::TokenUri uri, p11::TokenUri::Parse(c.token_uri));
  SIMKMS_ASSIGN_OR_RETURN(p11::SlotToken token, a->module->FindToken(uri));
  SIMKMS_ASSIGN_OR_RETURN(a->sessions, p11::SessionPool::Create(a->module, token.slot, pin, sessions));
  SIMKMS_ASSIGN_OR_RETURN(p11::Session control, p11::Session::Open(a->module, token.slot));
  a->control = std::make_unique<p11::Session>(std::move(control));
  SIMKMS_ASSIGN_OR_RETURN(a->keys, kms::LoadServiceKeys(*a->control));
  SIMKMS_ASSIGN_OR_RETURN(a->audit_mac, kms::TokenAuditMac::Open(a->module, token.slot));
  SIMKMS_ASSIGN_OR_RETURN(a->checkpoints, kms::TokenCheckpointStore::Open(a->module, token.slot));
  SIMKMS_ASSIGN_OR_RETURN(a->record_mac, kms::TokenRecordMac::Open(a->module, token.slot));
  storage::StoreOptions options;
  options.record_mac = a->record_mac.get();
  options.audit_epoch_max_records = c.audit_epoch_max_records;
  options.audit_epoch_max_seconds = c.audit_epoch_max_seconds;
  options.node = c.node;
  auto store = storage::Store::Open(c.database, *a->audit_mac, *a->checkpoints, options);
  if (!store.ok()) return store.status().WithContext("open database " + storage::Store::DescribeLocation(c.database));
  a->store = std::move(store).value();
  return a;
}

int Run(const Options& o) {
  auto config = daemon::LoadConfig(o.config);
  auto first = storage::ParseIccidBody(o.iccid_first);
  for (const Status& s : {config.status(), first.status()}) {
    if (!s.ok()) {
      std::cerr << "contract-fill: " << s.ToString() << "\n";
      return 2;
    }
  }
  if (!storage::IccidIntervalFits(*first, o.count)) {
    std::cerr << "contract-fill: the run leaves the ICCIDs of --iccid-first's length\n";
    return 2;
  }
  auto appliance = OpenAppliance(*config, o.threads);
  if (!appliance.ok()) {
    std::cerr << "contract-fill: " << appliance.status().ToString() << "\n";
    return 2;
  }
  Appliance& a = **appliance;
  const sc::RegistryService registries(a.keys, *a.store, kms::SystemClockMs, daemon::PolicyLimits(*config));

  std::mutex mu;
  std::map<std::string, uint64_t> errors;  // by status code, guarded by mu
  std::string first_error;                 // guarded by mu
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  std::atomic<uint64_t> contracted{0};
  std::atomic<bool> deadline_passed{false};
  auto worker = [&] {
    p11::SessionPool::Lease session = a.sessions->Acquire();
    sc::SubscriberRegistry registry = registries.Open(*session, {"operator", "contract-fill"});
    // Indexes are taken in order and a taken one is always finished: at the deadline
    // every index below `next` is done, so the fill is a consecutive run.
    while (!deadline_passed.load()) {
      const std::size_t i = next++;
      if (i >= o.count) break;
      sc::ContractRequest request;
      request.iccid = storage::FormatIccid(*first + i);
      request.order_id = o.order_prefix + "-" + request.iccid;
      auto r = registry.Contract(request);
      ++done;
      if (r.ok()) {
        ++contracted;
        continue;
      }
      std::lock_guard lock(mu);
      ++errors[std::string(StatusCodeName(r.status().code()))];
      if (first_error.empty()) first_error = r.status().ToString();
    }
  };
  const auto start = std::chrono::steady_clock::now();
  const storage::Store::GroupCommitStats groups_before = a.store->GetGroupCommitStats();
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < o.threads; ++t) threads.emplace_back(worker);
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  auto running = [&] {
    if (o.seconds > 0 && elapsed() >= o.seconds) deadline_passed = true;
    return done.load() < o.count && !deadline_passed.load();
  };
  if (o.progress_seconds > 0 || o.seconds > 0) {
    const double every = o.progress_seconds > 0 ? o.progress_seconds : 1;
    std::size_t last = 0;
    while (running()) {
      for (int w = 0; w < static_cast<int>(every * 10) && running(); ++w) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (o.progress_seconds <= 0) continue;
      const std::size_t now = done.load();
      std::cerr << "contract-fill: " << now << " of " << o.count << " after " << static_cast<uint64_t>(elapsed())
                << " s, " << static_cast<uint64_t>((now - last) / o.progress_seconds) << "/s now\n";
      last = now;
    }
  }
  for (auto& t : threads) t.join();
  const double seconds = elapsed();
  const storage::Store::GroupCommitStats groups = a.store->GetGroupCommitStats();
  const uint64_t group_count = groups.groups - groups_before.groups;

  nlohmann::ordered_json j{
      {"filler", "contract-fill (in-process sc::SubscriberRegistry::Contract, no HTTP)"},
      {"requested", o.count},
      {"threads", o.threads},
      {"iccid_first", o.iccid_first},
      {"contracted", contracted.load()},
      {"stopped_at_deadline", deadline_passed.load() && contracted.load() < o.count},
      {"errors", errors},
      {"seconds", seconds},
      {"contracts_per_second", seconds > 0 ? static_cast<double>(contracted.load()) / seconds : 0.0},
      {"commit_groups", group_count},
      {"commits_per_group", group_count > 0 ? static_cast<double>(contracted.load()) / group_count : 0.0}};
  if (!first_error.empty()) j["first_error"] = first_error;
  if (o.json) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << contracted.load() << " of " << o.count << " contracted in " << seconds << " s: "
              << j["contracts_per_second"] << " contracts/s, " << j["commits_per_group"] << " per commit group\n";
  }
  return errors.empty() ? 0 : 1;
}

}  // namespace
}  // namespace simkms::bench

int main(int argc, char** argv) {
  simkms::bench::Options o;
  CLI::App app{"contract-fill: contracts consecutive ICCIDs in-process through kmsd's contract code (no HTTP)"};
  app.add_option("--config", o.config, "kmsd's configuration file (token, database, node, limits)")->required();
  app.add_option("--iccid-first", o.iccid_first, "first ICCID (19 or 20 digits with its Luhn digit)")->required();
  app.add_option("--count", o.count, "ICCIDs to contract, consecutive bodies from --iccid-first")->required();
  app.add_option("--threads", o.threads, "concurrent contracts, each on its own token session (the commit groups' size)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--order-prefix", o.order_prefix, "order id prefix: order id = PREFIX-ICCID");
  app.add_option("--progress", o.progress_seconds, "print progress to stderr every this many seconds");
  app.add_option("--seconds", o.seconds, "start no contract after this many seconds (0: no deadline)");
  app.add_flag("--json", o.json, "JSON result on stdout");
  CLI11_PARSE(app, argc, argv);
  return simkms::bench::Run(o);
}
