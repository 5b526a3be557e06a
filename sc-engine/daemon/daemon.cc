#include "sc-engine/daemon/daemon.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>

#include "kms/kcv.h"
#include "kms/token_audit.h"
#include "kms/token_policy.h"
#include "kms/remembered_record_macs.h"
#include "kms/token_record_mac.h"
#include "pkcs11/module.h"
#include "pkcs11/pin.h"
#include "pkcs11/session_pool.h"
#include "pkcs11/uri.h"
#include "sc-engine/daemon/admin_server.h"
#include "sc-engine/daemon/chip_gateway_server.h"
#include "sc-engine/daemon/graceful_stop.h"
#include "sc-engine/daemon/gsup_server.h"
#include "sc-engine/daemon/health_check_internal.h"
#include "sc-engine/daemon/hardening.h"
#include "sc-engine/daemon/memory_trimmer.h"
#include "sc-engine/daemon/operator_api.h"
#include "sc-engine/daemon/rekey_campaign_timer.h"
#include "sc-engine/daemon/tls_internal.h"
#include "sc-engine/daemon/token_enforcement.h"
#include "sc-engine/daemon/audit_witness_sender.h"
#include "sc-engine/engine/admin_commands.h"

namespace simkms::daemon {

// Members are declared in construction order and destroyed in reverse: listeners
// and engines before the store, the store before the audit adapters, the
// sessions before the module (C_Finalize last, before main returns).
struct Daemon::Rep {
  Config config;
  std::shared_ptr<p11::Module> module;
  std::unique_ptr<p11::SessionPool> sessions;
  std::unique_ptr<p11::Session> control;  // the daemon's own session, for set-up
  kms::ServiceKeys keys;
  std::unique_ptr<kms::TokenAuditMac> audit_mac;
  std::unique_ptr<kms::TokenCheckpointStore> checkpoints;
  std::unique_ptr<kms::TokenRecordMac> record_mac;
  std::unique_ptr<kms::RememberedRecordMacs> remembered_macs;  // the store's, over record_mac
  std::unique_ptr<AuditWitnessSender> witness;  // outlives the store, which feeds it
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<kms::Ki2Vault> vault;
  std::unique_ptr<kms::KeyCache> ki1_cache;
  std::unique_ptr<kms::KeyCache> ki2_cache;
  std::unique_ptr<sc::SubscriberKeys> subscriber_keys;
  std::unique_ptr<sc::AucService> auc;
  std::unique_ptr<sc::HlrService> hlr;
  std::unique_ptr<sc::ChipChannel> chip_channel;
  std::unique_ptr<sc::AdminCommands> admin_commands;  // the admin socket's
  std::unique_ptr<sc::RegistryService> registries;
  std::unique_ptr<sc::HealthService> health;
  std::unique_ptr<HealthCheck> health_check;  // outlives the crypto pool, whose jobs use it
  Metrics metrics;
  GracefulStop graceful_stop;  // outlives the io_context, whose handlers hold the sessions
  TokenPolicyStatus token_policy;
  boost::asio::io_context io;
  std::unique_ptr<CryptoPool> crypto;
  std::unique_ptr<RecordAlarm> record_alarm;
  std::unique_ptr<Services> services;
  std::unique_ptr<TcpListener> chip_server;
  std::unique_ptr<TcpListener> gsup_server;
  std::unique_ptr<TcpListener> api_server;
  std::unique_ptr<TcpListener> metrics_server;
  std::unique_ptr<UnixListener> admin_server;
  std::unique_ptr<boost::asio::signal_set> signals;
  std::unique_ptr<MemoryTrimmer> memory_trimmer;
  std::unique_ptr<sc::RekeyCampaign> rekey_campaign;
  std::unique_ptr<RekeyCampaignTimer> rekey_timer;  // uses the campaign, the registries and the store

  ~Rep() {
    // Its timer is on `io`, which is destroyed before it.
    if (health_check) health_check->StopPeriodic();
    memory_trimmer.reset();
    rekey_timer.reset();
    // Engines hold session objects of the pool's sessions: drop them first.
    chip_server.reset();
    gsup_server.reset();
    api_server.reset();
    metrics_server.reset();
    admin_server.reset();
    if (crypto) crypto->Stop();
    chip_channel.reset();
    auc.reset();
    hlr.reset();
    admin_commands.reset();
    health.reset();
    registries.reset();
    subscriber_keys.reset();
    ki2_cache.reset();
    ki1_cache.reset();
    store.reset();
    remembered_macs.reset();
    record_mac.reset();
    witness.reset();
    checkpoints.reset();
    audit_mac.reset();
    control.reset();
    sessions.reset();
    module.reset();
  }
};

Daemon::Daemon(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
Daemon::~Daemon() = default;

StatusOr<std::unique_ptr<Daemon>> Daemon::Create(Config config) {
  SIMKMS_RETURN_IF_ERROR(CheckSafety(config));
  auto rep = std::make_unique<Rep>();
  rep->config = std::move(config);
  const Config& c = rep->config;
  for (const std::string& warning : ConfigWarnings(c)) std::cerr << "kmsd: warning: " << warning << "\n";
  if (rlimit fds{}; getrlimit(RLIMIT_NOFILE, &fds) == 0) {
    if (std::string w = FileDescriptorWarning(c, fds.rlim_cur); !w.empty()) std::cerr << "kmsd: warning: " << w << "\n";
  }
  SIMKMS_ASSIGN_OR_RETURN(HardeningReport hardening, HardenProcess(c.lock_memory));
  if (!hardening.memory_locked && c.lock_memory) std::cerr << "kmsd: note: " << hardening.memory_lock_note << "\n";

  SIMKMS_ASSIGN_OR_RETURN(SecretBytes pin, p11::ReadPin({c.pin_file, ""}));
  SIMKMS_ASSIGN_OR_RETURN(rep->module, p11::Module::Load(c.module, {.init_args = c.module_init_args}));
  SIMKMS_ASSIGN_OR_RETURN(p11::TokenUri uri, p11::TokenUri::Parse(c.token_uri));
  SIMKMS_ASSIGN_OR_RETURN(p11::SlotToken token, rep->module->FindToken(uri));
  SIMKMS_ASSIGN_OR_RETURN(rep->sessions, p11::SessionPool::Create(rep->module, token.slot, pin, c.sessions));
  SIMKMS_ASSIGN_OR_RETURN(p11::Session control, p11::Session::Open(rep->module, token.slot));
  rep->control = std::make_unique<p11::Session>(std::move(control));
  auto keys = kms::LoadServiceKeys(*rep->control);
  if (!keys.ok()) return keys.status().WithContext("token '" + token.label + "' has no keys: run kmsctl init");
  rep->keys = *keys;
  {
    // The token must hold exactly what the policy says, each key with no function
    // beyond its job: a widened key, a stranger or a public object posing as ours
    // stops the start (kmsctl token check shows the details).
    auto check = kms::CheckTokenObjects(*rep->control);
    if (!check.ok()) return check.status().WithContext("check token '" + token.label + "' against the token policy");
    if (!check->ok()) {
      return FailedPreconditionError("token '" + token.label +
                                     "' does not match the token policy, refusing to start (see kmsctl token check): " +
                                     check->Summary());
    }
    rep->token_policy.objects = check->objects.size();
    rep->token_policy.violations = 0;
  }
  {
    // The attributes above are only as good as the module's respect for them.
    SIMKMS_ASSIGN_OR_RETURN(std::vector<EnforcementOutcome> enforcement,
                            CheckTokenEnforcement(*rep->control, c.waived_checks, token.label));
    for (const EnforcementOutcome& e : enforcement) {
      rep->metrics.SetGauge("simkms_token_enforces", {{"check", e.check}}, e.enforced ? 1 : 0);
      if (!e.enforced) {
        std::cerr << "kmsd: warning: token '" << token.label << "' fails the start-up check " << e.check << " ("
                  << e.detail << "), waived by token.waived_checks: not a production token "
                  << "(docs/hsm-compatibility.md)\n";
      } else if (std::find(c.waived_checks.begin(), c.waived_checks.end(), e.check) != c.waived_checks.end()) {
        std::cerr << "kmsd: note: token.waived_checks names " << e.check << ", which this token passes: remove it\n";
      }
    }
  }
  SIMKMS_ASSIGN_OR_RETURN(rep->audit_mac, kms::TokenAuditMac::Open(rep->module, token.slot));
  SIMKMS_ASSIGN_OR_RETURN(rep->checkpoints, kms::TokenCheckpointStore::Open(rep->module, token.slot));
  SIMKMS_ASSIGN_OR_RETURN(rep->record_mac, kms::TokenRecordMac::Open(rep->module, token.slot));
  rep->remembered_macs = std::make_unique<kms::RememberedRecordMacs>(*rep->record_mac, c.remembered_records);
  storage::StoreOptions store_options;
  store_options.record_mac = rep->remembered_macs.get();
  store_options.audit_epoch_max_records = c.audit_epoch_max_records;
  store_options.audit_epoch_max_seconds = c.audit_epoch_max_seconds;
  if (!c.audit_witness_syslog.empty()) {
    SIMKMS_ASSIGN_OR_RETURN(WitnessTarget target, ParseWitnessTarget(c.audit_witness_syslog));
    target.max_queue = c.audit_witness_queue;
    rep->witness = std::make_unique<AuditWitnessSender>(target, rep->metrics);
    store_options.on_epoch_closed = [w = rep->witness.get()](const storage::AuditEpochHead& h) { w->Enqueue(h); };
  }
  store_options.node = c.node;
  // Every crypto worker reads the subscriber and its VER per request; the HTTP and
  // admin threads and the re-key campaign read too. Fewer connections than readers
  // would queue them.
  store_options.database_readers = static_cast<int>(c.sessions) + 3;
  auto store = storage::Store::Open(c.database, *rep->audit_mac, *rep->checkpoints, store_options);
  if (!store.ok()) return store.status().WithContext("open database " + storage::Store::DescribeLocation(c.database));
  rep->store = std::move(store).value();
  // Every start is on the record; the first commit also checks the chain head
  // against the token's checkpoint (storage repairs a lag of one record left by
  // a crash, and refuses anything else).
  {
    storage::AuditEvent started;
    started.time_ms = kms::SystemClockMs();
    started.actor_role = "system";
    started.actor_identity = "kmsd";
    started.event = "kmsd.start";
    started.subject = "token " + token.label;
    started.details = {{"sessions", std::to_string(c.sessions)},
                       {"in_flight_sessions_rolled_back", "all (first-call sessions live in memory only)"}};
    Status recorded = rep->store->Commit(storage::WriteSet(), started);
    if (!recorded.ok()) return recorded.WithContext("record the start in the audit trail");
  }
  SIMKMS_ASSIGN_OR_RETURN(Bytes kek_kcv, kms::TokenKcv(*rep->control, rep->keys.storage_kek, "storage KEK"));
  rep->vault = std::make_unique<kms::Ki2Vault>(rep->keys.storage_kek, kek_kcv);
  rep->ki1_cache = std::make_unique<kms::KeyCache>(c.ki1_cache_size);
  rep->ki2_cache = std::make_unique<kms::KeyCache>(c.ki2_cache_size);
  rep->subscriber_keys =
      std::make_unique<sc::SubscriberKeys>(rep->keys, *rep->store, *rep->vault, *rep->ki1_cache, *rep->ki2_cache);
  rep->auc = std::make_unique<sc::AucService>(
      *rep->store, *rep->subscriber_keys, kms::SystemClockMs,
      sc::AucOptions{.ind_slice = {static_cast<uint8_t>(c.gsup_ind_first), static_cast<uint8_t>(c.gsup_ind_last)},
                     .sqn_block = c.gsup_sqn_block,
                     .max_cached_blocks = c.gsup_sqn_block_cache});
  rep->hlr = std::make_unique<sc::HlrService>(*rep->store);
  rep->chip_channel = std::make_unique<sc::ChipChannel>(rep->keys, *rep->store, *rep->subscriber_keys,
                                                        kms::SystemClockMs, PolicyLimits(c));
  rep->registries = std::make_unique<sc::RegistryService>(rep->keys, *rep->store, kms::SystemClockMs, PolicyLimits(c));
  rep->health = std::make_unique<sc::HealthService>(*rep->store, *rep->audit_mac);
  rep->crypto = std::make_unique<CryptoPool>(*rep->sessions);
  rep->health_check = std::make_unique<HealthCheck>(*rep->health, *rep->crypto, rep->token_policy, rep->metrics,
                                                    std::chrono::milliseconds(c.health_timeout_ms));
  rep->record_alarm = std::make_unique<RecordAlarm>(*rep->health, rep->metrics, *rep->crypto, kms::SystemClockMs);
  rep->admin_commands = std::make_unique<sc::AdminCommands>(*rep->store, rep->keys);
  rep->services = std::make_unique<Services>(Services{rep->config, rep->metrics, *rep->crypto, *rep->chip_channel,
                                                      *rep->auc, *rep->hlr, *rep->registries, *rep->health, *rep->health_check,
                                                      *rep->record_alarm,
                                                      rep->graceful_stop, rep->token_policy, *rep->admin_commands});

  std::shared_ptr<boost::asio::ssl::context> tls;
  for (const ListenerConfig& l : c.listeners) {
    if (l.enabled() && l.tls && !tls) {
      SIMKMS_ASSIGN_OR_RETURN(tls, MakeServerTlsContext(c));
    }
  }
  auto tls_for = [&](const ListenerConfig& l) { return l.tls ? tls : nullptr; };
  if (const ListenerConfig* l = c.listener("chip_channel"); l && l->enabled()) {
    SIMKMS_ASSIGN_OR_RETURN(rep->chip_server, StartChipGatewayListener(rep->io, *l, tls_for(*l), *rep->services));
  }
  if (const ListenerConfig* l = c.listener("auc"); l && l->enabled()) {
    SIMKMS_ASSIGN_OR_RETURN(rep->gsup_server, StartGsupListener(rep->io, *l, *rep->services));
  }
  if (const ListenerConfig* l = c.listener("operator_api"); l && l->enabled()) {
    SIMKMS_ASSIGN_OR_RETURN(rep->api_server,
                            StartHttpListener(rep->io, *l, tls_for(*l), HttpKind::kOperatorApi, *rep->services));
  }
  if (const ListenerConfig* l = c.listener("metrics"); l && l->enabled()) {
    SIMKMS_ASSIGN_OR_RETURN(rep->metrics_server,
                            StartHttpListener(rep->io, *l, tls_for(*l), HttpKind::kMetrics, *rep->services));
  }
  if (!c.admin_socket.empty()) {
    SIMKMS_ASSIGN_OR_RETURN(rep->admin_server, StartAdminListener(rep->io, c.admin_socket, *rep->services));
  }
  // The health gauges of /metrics from the first scrape on, on an idle node too.
  rep->health_check->StartPeriodic(rep->io.get_executor(), std::chrono::milliseconds(c.health_interval_ms));
  rep->memory_trimmer = std::make_unique<MemoryTrimmer>(std::chrono::seconds(5));
  if (c.rekey_campaign) {
    // The campaign's own session: a re-key request makes no token call, but a
    // SubscriberRegistry takes a session, and a pool's would hold up a crypto worker.
    SIMKMS_ASSIGN_OR_RETURN(p11::Session campaign_session, p11::Session::Open(rep->module, token.slot));
    rep->rekey_campaign = std::make_unique<sc::RekeyCampaign>(*rep->store, kms::SystemClockMs, c.rekey_campaign_batch);
    rep->rekey_timer = std::make_unique<RekeyCampaignTimer>(*rep->rekey_campaign, *rep->registries,
                                                            std::move(campaign_session), rep->metrics,
                                                            std::chrono::milliseconds(c.rekey_campaign_interval_ms));
  }
  SIMKMS_RETURN_IF_ERROR(DropPrivileges(c.run_as));
  return std::unique_ptr<Daemon>(new Daemon(std::move(rep)));
}

Status Daemon::Run() {
  Rep& r = *rep_;
  r.signals = std::make_unique<boost::asio::signal_set>(r.io, SIGTERM, SIGINT);
  r.signals->async_wait([this](auto ec, int) {
    if (!ec) Stop();
  });
  // The stop, once begun (Stop() only begins it: it may run on an I/O thread):
  //  1. stop accepting, and the sessions take on no new request (GracefulStop::Begin
  //     in Stop(); a request read after it is not answered and changes nothing);
  //  2. the I/O loop keeps running while the crypto workers finish the jobs taken
  //     on, the store makes their writes durable and the answers are posted and
  //     written; each session closes once it owes nothing (TLS with close_notify,
  //     plaintext with a FIN, waiting for the peer's);
  //  3. once every session has closed, or at limits.drain_timeout_ms, the crypto
  //     pool finishes what is queued and the loop stops. Past the timeout the
  //     answers still owed are dropped, and logged: their state changes are
  //     committed, and the peers recover as from a lost message (an MSC asks
  //     again and gets new SQNs; a chip resends, docs/protocol.md §6).
  // The stopper is Run()'s own thread: no other thread reads or writes it.
  std::thread stopper([&r] {
    r.graceful_stop.AwaitBegun();
    if (r.rekey_timer) r.rekey_timer->Stop();  // no new re-key request once the stop has begun
    boost::asio::post(r.io, [&r] {
      if (r.chip_server) r.chip_server->Stop();
      if (r.gsup_server) r.gsup_server->Stop();
      if (r.api_server) r.api_server->Stop();
      if (r.metrics_server) r.metrics_server->Stop();
      if (r.admin_server) r.admin_server->Stop();
      r.health_check->StopPeriodic();
      if (r.signals) r.signals->cancel();
    });
    const auto started = std::chrono::steady_clock::now();
    if (r.graceful_stop.AwaitDrained()) {
      const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
      std::cerr << "kmsd: stopping: every connection closed with its answers written (" << took.count() << " ms)\n";
    } else {
      std::cerr << "kmsd: stopping: limits.drain_timeout_ms (" << r.config.drain_timeout_ms << " ms) passed with "
                << r.graceful_stop.open_sessions() << " connections open, owing " << r.graceful_stop.owed()
                << " answers or frames: closed without them\n";
    }
    r.crypto->Stop();
    r.io.stop();
  });
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < r.config.io_threads; ++i) threads.emplace_back([&r] { r.io.run(); });
  r.io.run();
  for (auto& t : threads) t.join();
  Stop();  // the loop only ends by a stop; this frees the stopper if it ended otherwise
  stopper.join();
  return OkStatus();
}

void Daemon::Stop() {
  rep_->graceful_stop.Begin(std::chrono::milliseconds(rep_->config.drain_timeout_ms));
}

uint16_t Daemon::Port(const std::string& listener) const {
  if (listener == "chip_channel" && rep_->chip_server) return rep_->chip_server->local_endpoint().port();
  if (listener == "auc" && rep_->gsup_server) return rep_->gsup_server->local_endpoint().port();
  if (listener == "operator_api" && rep_->api_server) return rep_->api_server->local_endpoint().port();
  if (listener == "metrics" && rep_->metrics_server) return rep_->metrics_server->local_endpoint().port();
  return 0;
}

}  // namespace simkms::daemon
