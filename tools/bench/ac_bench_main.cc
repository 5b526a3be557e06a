// ac-bench: a GSUP load client for an AuC (kmsd's "auc" listener or osmo-hlr),
// built on Debian's libosmo-gsup-client, the library osmo-msc and osmo-sgsn use:
// the Osmocom side frames, identifies (IPA CCM) and decodes, not our codec.
//
// --connections clients, each with its own IPA SERNR (so each gets its own IND),
// all driven by libosmocore's single-threaded select loop, keep --in-flight
// SEND_AUTH_INFO requests outstanding in total, each for a random subscriber of
// --subscribers, asking --vectors (1..5) vectors. GSUP has no transaction id:
// answers carry the IMSI and both servers answer in order per connection, so an
// answer is matched to its connection's oldest pending request, checked against
// its IMSI. Every result must hold exactly the asked number of tuples, each with
// 16-byte RAND/AUTN/CK/IK and an 8-byte RES (else "malformed", and exit 3);
// with --verify (the file then holds imsi,k_hex,opc_hex, sc-bench
// --export-subscriber-keys) every tuple is checked with software Milenage.
// Errors are counted by GSUP cause. Bounded by --requests and/or --duration.
//
//   ac-bench --port PORT --subscribers FILE [--host 127.0.0.1] [--vectors 5] [--in-flight 64]
//            [--connections 4] [--duration 10] [--requests 0] [--timeout-ms 10000]
//            [--server-pid PID] [--label NAME] [--verify] [--json]
// Exit: 0 every request answered with a well-formed result; 3 errors; 1 set-up failure; 2 bad arguments.
#include <CLI/CLI.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include <osmocom/core/application.h>
#include <osmocom/core/logging.h>
#include <osmocom/core/msgb.h>
#include <osmocom/core/select.h>
#include <osmocom/core/talloc.h>
#include <osmocom/core/timer.h>
#include <osmocom/gsm/gsup.h>
#include <osmocom/gsm/ipa.h>
#include <osmocom/gsupclient/gsup_client.h>
}

#include "softcrypto/milenage.h"
#include "softcrypto/software_aes.h"
#include "tools/bench/latency.h"
#include "tools/bench/proc_stats.h"
#include "tools/bench/subscriber_keys.h"

namespace {

using namespace simkms;
using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string subscribers_path;
  unsigned vectors = 5;
  std::size_t in_flight = 64;
  std::size_t connections = 4;
  double duration = 10;
  uint64_t requests = 0;  // 0: only --duration bounds the run
  int timeout_ms = 10000;
  int server_pid = 0;
  std::string label;
  bool verify = false;
  bool json = false;
};

struct Pending {
  std::size_t subscriber;
  Clock::time_point sent;
};

class Bench;

struct Conn {
  Bench* bench = nullptr;
  std::size_t index = 0;
  osmo_gsup_client* client = nullptr;
  bool up = false;
  std::deque<Pending> pending;  // in send order: the server answers in this order
};

class Bench {
 public:
  Bench(Options o, std::vector<bench::SubscriberKey> subscribers)
      : o_(std::move(o)), subs_(std::move(subscribers)), rng_(std::random_device{}()) {}
  ~Bench();

  Status Connect();
  Status Run();
  nlohmann::json Report();
  bool clean() const { return errors_.empty(); }

  void OnUpDown(Conn& conn, bool up);
  void OnMessage(Conn& conn, msgb* msg);

 private:
  void Fill(Clock::time_point now);
  void Send(Conn& conn, Clock::time_point now);
  void Error(const std::string& kind) { ++errors_[kind]; }
  // Checks a SEND_AUTH_INFO_RESULT's tuples; an error kind, or empty if good.
  std::string CheckResult(const osmo_gsup_message& m, const bench::SubscriberKey& s);
  void SampleServer();

  Options o_;
  std::vector<bench::SubscriberKey> subs_;
  std::mt19937_64 rng_;
  void* ctx_ = nullptr;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::size_t next_conn_ = 0;
  std::size_t in_flight_ = 0, max_in_flight_ = 0;
  uint64_t sent_ = 0, answers_ = 0, results_ = 0, vectors_ = 0, verified_ = 0;
  std::map<std::string, uint64_t> errors_;
  bench::LatencySamples latency_;
  Clock::time_point start_, last_answer_;
  std::optional<bench::ProcSample> server_before_, server_after_;
  double server_peak_rss_ = 0, client_cpu_ = 0, elapsed_ = 0;
};

int ReadCb(osmo_gsup_client* client, msgb* msg) {
  auto* conn = static_cast<Conn*>(client->data);
  conn->bench->OnMessage(*conn, msg);
  msgb_free(msg);  // libosmo-gsup-client hands the message over
  return 0;
}

bool UpDownCb(osmo_gsup_client* client, bool up) {
  auto* conn = static_cast<Conn*>(client->data);
  conn->bench->OnUpDown(*conn, up);
  return true;
}

// libosmocore's logging must be set up before its libraries log; fatal only.
void InitLogging() {
  static const log_info kInfo = {};
  if (osmo_init_logging2(nullptr, &kInfo) == 0 && osmo_stderr_target) {
    log_set_log_level(osmo_stderr_target, LOGL_FATAL);
  }
}

// Runs libosmocore's select loop until `done` or the deadline.
template <typename Done>
bool PollUntil(Clock::time_point deadline, Done done) {
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    if (osmo_select_main(/*polling=*/1) <= 0) usleep(500);
  }
  return true;
}

Bench::~Bench() {
  for (auto& c : conns_) {
    if (c->client) osmo_gsup_client_destroy(c->client);
  }
  talloc_free(ctx_);
}

Status Bench::Connect() {
  InitLogging();
  ctx_ = talloc_named_const(nullptr, 0, "ac-bench");
  for (std::size_t i = 0; i < o_.connections; ++i) {
    auto conn = std::make_unique<Conn>();
    conn->bench = this;
    conn->index = i;
    auto* unit = talloc_zero(ctx_, struct ipaccess_unit);
    unit->unit_name = talloc_strdup(unit, "AC-BENCH");
    // A stable name per connection: osmo-hlr keeps one IND row per name for good.
    unit->serno = talloc_asprintf(unit, "AC-BENCH-%zu", i);
    osmo_gsup_client_config config{};
    config.ipa_dev = unit;
    config.ip_addr = o_.host.c_str();
    config.tcp_port = o_.port;
    config.read_cb = ReadCb;
    config.up_down_cb = UpDownCb;
    config.data = conn.get();
    conn->client = osmo_gsup_client_create3(ctx_, &config);
    if (!conn->client) return UnavailableError("osmo_gsup_client_create3 failed");
    conns_.push_back(std::move(conn));
  }
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  if (!PollUntil(deadline, [this] {
        for (auto& c : conns_) {
          if (!c->up) return false;
        }
        return true;
      })) {
    return UnavailableError("GSUP links to " + o_.host + ":" + std::to_string(o_.port) + " did not come up");
  }
  // The server's ID_GET and the library's ID_RESP cross right after connect; a
  // server answers no GSUP from an unidentified peer (and osmo-hlr would spend
  // an SQN on it), so let the identity exchange finish first.
  PollUntil(Clock::now() + std::chrono::milliseconds(200), [] { return false; });
  return OkStatus();
}

void Bench::OnUpDown(Conn& conn, bool up) {
  conn.up = up;
  if (up) return;
  for (std::size_t i = 0; i < conn.pending.size(); ++i) Error("connection-lost");
  in_flight_ -= conn.pending.size();
  conn.pending.clear();
}

void Bench::Send(Conn& conn, Clock::time_point now) {
  std::uniform_int_distribution<std::size_t> pick(0, subs_.size() - 1);
  const std::size_t s = pick(rng_);
  osmo_gsup_message request{};
  request.message_type = OSMO_GSUP_MSGT_SEND_AUTH_INFO_REQUEST;
  std::memcpy(request.imsi, subs_[s].imsi.c_str(), subs_[s].imsi.size() + 1);  // <= 15 digits, checked on load
  request.cn_domain = OSMO_GSUP_CN_DOMAIN_CS;
  request.message_class = OSMO_GSUP_MESSAGE_CLASS_SUBSCRIBER_MANAGEMENT;
  request.num_auth_vectors = o_.vectors;  // NUM_VECTORS_REQ
  if (osmo_gsup_client_enc_send(conn.client, &request) != 0) {
    Error("client:send");
    return;
  }
  conn.pending.push_back({s, now});
  ++sent_;
  max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
}

void Bench::Fill(Clock::time_point now) {
  const bool time_left = o_.duration <= 0 || Seconds(now - start_) < o_.duration;
  while (time_left && in_flight_ < o_.in_flight && (o_.requests == 0 || sent_ < o_.requests)) {
    Conn* conn = nullptr;
    for (std::size_t tries = 0; tries < conns_.size() && !conn; ++tries) {
      Conn& c = *conns_[next_conn_];
      next_conn_ = (next_conn_ + 1) % conns_.size();
      if (c.up) conn = &c;
    }
    if (!conn) return;  // every link down: the library reconnects, the timeout sweep counts the rest
    const uint64_t before = sent_;
    Send(*conn, now);
    if (sent_ == before) return;
  }
}

// osmo_gsup_decode() checks the lengths of the tuple IEs that are present but
// not that they are there (absent ones stay zero): every AUTH_TUPLE (0x03) of
// the raw message must hold RAND 0x20, IK 0x23, CK 0x24, AUTN 0x25 (16 bytes)
// and RES 0x27 (8 bytes). The message already decoded, so its TLVs are sound.
bool TuplesComplete(const uint8_t* p, std::size_t n) {
  for (std::size_t i = 1; i + 2 <= n; i += 2 + p[i + 1]) {
    if (p[i] != 0x03) continue;
    const uint8_t* t = p + i + 2;
    const std::size_t len = std::min<std::size_t>(p[i + 1], n - i - 2);
    unsigned seen = 0;
    for (std::size_t j = 0; j + 2 <= len; j += 2 + t[j + 1]) {
      const uint8_t tag = t[j], l = t[j + 1];
      if ((tag == 0x20 || tag == 0x23 || tag == 0x24 || tag == 0x25) && l == 16) seen |= 1u << (tag - 0x20);
      if (tag == 0x27 && l == 8) seen |= 1u << 7;
    }
    if (seen != ((1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 7))) return false;
  }
  return true;
}

std::string Bench::CheckResult(const osmo_gsup_message& m, const bench::SubscriberKey& s) {
  if (m.num_auth_vectors != o_.vectors) return "malformed:vector-count";
  for (std::size_t i = 0; i < m.num_auth_vectors; ++i) {
    const osmo_auth_vector& v = m.auth_vectors[i];
    if (v.res_len != 8) return "malformed:res-length";
    if (!o_.verify) continue;
    auto aes = kms::SoftwareAes128::Create(s.k);
    if (!aes.ok()) return "client:verify-key";
    kms::Block opc{}, rand{}, autn{};
    std::copy(s.opc.reveal().begin(), s.opc.reveal().end(), opc.begin());
    std::memcpy(rand.data(), v.rand, 16);
    std::memcpy(autn.data(), v.autn, 16);
    auto card = kms::CheckAutn(**aes, opc, rand, autn);
    if (!card.ok()) return "wrong:autn-mac";
    if (std::memcmp(card->res.data(), v.res, 8) != 0) return "wrong:res";
    if (std::memcmp(card->ck.data(), v.ck, 16) != 0 || std::memcmp(card->ik.data(), v.ik, 16) != 0) {
      return "wrong:ck-ik";
    }
    const kms::Sres sres = kms::ConvertResToSres(card->res);
    const kms::Kc kc = kms::ConvertToKc(card->ck, card->ik);
    if (std::memcmp(sres.data(), v.sres, 4) != 0 || std::memcmp(kc.data(), v.kc, 8) != 0) return "wrong:sres-kc";
    ++verified_;
  }
  return "";
}

void Bench::OnMessage(Conn& conn, msgb* msg) {
  const auto now = Clock::now();
  osmo_gsup_message m{};
  if (osmo_gsup_decode(static_cast<const uint8_t*>(msgb_l2(msg)), msgb_l2len(msg), &m) < 0) {
    // Cannot tell which request it answers: count it; the request times out.
    Error("malformed:undecodable");
    return;
  }
  if (m.message_type != OSMO_GSUP_MSGT_SEND_AUTH_INFO_RESULT && m.message_type != OSMO_GSUP_MSGT_SEND_AUTH_INFO_ERROR) {
    Error("client:unexpected-message-type");
    return;
  }
  // In order per connection: the oldest pending request; if its IMSI differs,
  // the server reordered (counted) and the answer goes to the oldest with that IMSI.
  auto it = conn.pending.begin();
  if (it != conn.pending.end() && subs_[it->subscriber].imsi != m.imsi) {
    Error("client:out-of-order");
    while (it != conn.pending.end() && subs_[it->subscriber].imsi != m.imsi) ++it;
  }
  if (it == conn.pending.end()) {
    Error("client:unmatched-answer");
    return;
  }
  const Pending p = *it;
  conn.pending.erase(it);
  --in_flight_;
  ++answers_;
  last_answer_ = now;
  latency_.Add(Ms(now - p.sent));
  if (m.message_type == OSMO_GSUP_MSGT_SEND_AUTH_INFO_ERROR) {
    char kind[32];
    std::snprintf(kind, sizeof kind, "gsup-cause-0x%02x", static_cast<unsigned>(m.cause));
    Error(kind);
    return;
  }
  if (!TuplesComplete(static_cast<const uint8_t*>(msgb_l2(msg)), msgb_l2len(msg))) {
    Error("malformed:tuple-ie-missing");
    return;
  }
  if (std::string bad = CheckResult(m, subs_[p.subscriber]); !bad.empty()) {
    Error(bad);
    return;
  }
  ++results_;
  vectors_ += m.num_auth_vectors;
}

void Bench::SampleServer() {
  if (o_.server_pid <= 0) return;
  if (auto s = bench::SampleProcess(o_.server_pid); s.ok()) server_peak_rss_ = std::max(server_peak_rss_, s->rss_mb);
}

Status Bench::Run() {
  const double cpu_before = bench::SelfCpuSeconds();
  if (o_.server_pid > 0) {
    SIMKMS_ASSIGN_OR_RETURN(server_before_, bench::SampleProcess(o_.server_pid));
  }
  start_ = last_answer_ = Clock::now();
  const auto timeout = std::chrono::milliseconds(o_.timeout_ms);
  auto last_sweep = start_, last_sample = start_;
  // A 20 ms tick wakes the blocking select loop for the deadlines and sampling
  // when no answer arrives; answers wake it at once.
  osmo_timer_list tick{};
  osmo_timer_setup(&tick, [](void* t) { osmo_timer_schedule(static_cast<osmo_timer_list*>(t), 0, 20000); }, &tick);
  osmo_timer_schedule(&tick, 0, 20000);
  Fill(start_);
  for (;;) {
    osmo_select_main(/*polling=*/0);
    const auto now = Clock::now();
    Fill(now);
    if (now - last_sweep > std::chrono::milliseconds(100)) {
      for (auto& c : conns_) {
        while (!c->pending.empty() && now - c->pending.front().sent > timeout) {
          // Later answers on this connection would now match the wrong request:
          // a timed-out request is dropped with everything behind it.
          for (std::size_t i = 0; i < c->pending.size(); ++i) Error("timeout");
          in_flight_ -= c->pending.size();
          c->pending.clear();
        }
      }
      last_sweep = now;
    }
    if (now - last_sample > std::chrono::milliseconds(100)) {
      SampleServer();
      last_sample = now;
    }
    const bool sending_done = (o_.requests > 0 && sent_ >= o_.requests) ||
                              (o_.duration > 0 && Seconds(now - start_) >= o_.duration);
    if (sending_done && in_flight_ == 0) break;
    if (sending_done && now - last_answer_ > timeout + std::chrono::seconds(1)) break;
  }
  osmo_timer_del(&tick);
  elapsed_ = Seconds((answers_ > 0 ? last_answer_ : Clock::now()) - start_);
  for (auto& c : conns_) {
    for (std::size_t i = 0; i < c->pending.size(); ++i) Error("unanswered");
    in_flight_ -= c->pending.size();
    c->pending.clear();
  }
  SampleServer();
  if (o_.server_pid > 0) {
    SIMKMS_ASSIGN_OR_RETURN(server_after_, bench::SampleProcess(o_.server_pid));
  }
  client_cpu_ = bench::SelfCpuSeconds() - cpu_before;
  return OkStatus();
}

nlohmann::json Bench::Report() {
  nlohmann::json r;
  if (!o_.label.empty()) r["label"] = o_.label;
  r["server"] = o_.host + ":" + std::to_string(o_.port);
  r["subscribers"] = subs_.size();
  r["vectors_per_request"] = o_.vectors;
  r["in_flight"] = o_.in_flight;
  r["max_in_flight"] = max_in_flight_;
  r["connections"] = o_.connections;
  r["requests"] = sent_;
  r["answers"] = answers_;
  r["results"] = results_;
  r["vectors"] = vectors_;
  r["verified_vectors"] = verified_;
  r["seconds"] = elapsed_;
  // Answered with vectors: error answers are counted under "errors", not as served requests.
  r["requests_per_second"] = elapsed_ > 0 ? static_cast<double>(results_) / elapsed_ : 0;
  r["vectors_per_second"] = elapsed_ > 0 ? static_cast<double>(vectors_) / elapsed_ : 0;
  r["errors"] = nlohmann::json::object();
  for (const auto& [k, v] : errors_) r["errors"][k] = v;
  r["latency_ms"] = latency_.Summary();
  r["client_cpu_seconds"] = client_cpu_;
  if (server_before_ && server_after_) {
    const double cpu = server_after_->cpu_seconds - server_before_->cpu_seconds;
    r["server_process"] = {{"pid", o_.server_pid},
                           {"cpu_seconds", cpu},
                           {"cpu_cores", elapsed_ > 0 ? cpu / elapsed_ : 0},
                           {"rss_mb_start", server_before_->rss_mb},
                           {"rss_mb_peak_sampled", server_peak_rss_},
                           {"rss_mb_end", server_after_->rss_mb}};
  }
  return r;
}

void PrintText(const nlohmann::json& r) {
  std::printf("%s%s: %llu requests, %llu answered, %llu vectors in %.2f s = %.0f vectors/s, %.0f requests/s "
              "(%u per request, %zu in flight, %zu connections)\n",
              r.value("label", std::string("ac-bench")).c_str(),
              (" " + r["server"].get<std::string>()).c_str(), r["requests"].get<unsigned long long>(),
              r["answers"].get<unsigned long long>(), r["vectors"].get<unsigned long long>(), r["seconds"].get<double>(),
              r["vectors_per_second"].get<double>(), r["requests_per_second"].get<double>(),
              r["vectors_per_request"].get<unsigned>(), r["in_flight"].get<std::size_t>(),
              r["connections"].get<std::size_t>());
  const auto& l = r["latency_ms"];
  std::printf("latency p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms\n", l["p50"].get<double>(), l["p90"].get<double>(),
              l["p99"].get<double>(), l["max"].get<double>());
  std::printf("errors:");
  if (r["errors"].empty()) std::printf(" none");
  for (const auto& [k, v] : r["errors"].items()) std::printf(" %s=%llu", k.c_str(), v.get<unsigned long long>());
  std::printf("\nclient CPU %.2f s; %llu vectors verified\n", r["client_cpu_seconds"].get<double>(),
              r["verified_vectors"].get<unsigned long long>());
  if (r.contains("server_process")) {
    const auto& k = r["server_process"];
    std::printf("server CPU %.2f s (%.2f cores), RSS %.1f MB peak (sampled)\n", k["cpu_seconds"].get<double>(),
                k["cpu_cores"].get<double>(), k["rss_mb_peak_sampled"].get<double>());
  }
}

// Loads the subscribers, connects, runs; the report and whether it had no error.
Status RunBench(const Options& o, nlohmann::json& report, bool& clean) {
  SIMKMS_ASSIGN_OR_RETURN(std::vector<bench::SubscriberKey> subs, bench::ReadSubscribers(o.subscribers_path, o.verify));
  Bench bench(o, std::move(subs));
  SIMKMS_RETURN_IF_ERROR(bench.Connect());
  SIMKMS_RETURN_IF_ERROR(bench.Run());
  report = bench.Report();
  clean = bench.clean();
  return OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ac-bench: SEND_AUTH_INFO load over GSUP (libosmo-gsup-client) against an AuC"};
  Options o;
  app.add_option("--host", o.host, "the AuC's GSUP address (IPv4)")->capture_default_str();
  app.add_option("--port", o.port, "the AuC's GSUP port")->required()->check(CLI::Range(1, 65535));
  app.add_option("--subscribers", o.subscribers_path,
                 "file of subscribers, one 'imsi' or 'imsi,k_hex,opc_hex' a line")->required();
  app.add_option("--vectors", o.vectors, "vectors asked per request (NUM_VECTORS_REQ)")
      ->check(CLI::Range(1, 5))->capture_default_str();
  app.add_option("--in-flight", o.in_flight, "requests outstanding at once, over all connections")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--connections", o.connections, "GSUP clients, each with its own IPA SERNR (AC-BENCH-<i>)")
      ->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--duration", o.duration, "stop sending after this many seconds (0: no limit)")
      ->check(CLI::Range(0.0, 3600.0))->capture_default_str();
  app.add_option("--requests", o.requests, "stop after sending this many requests (0: no limit)")
      ->capture_default_str();
  app.add_option("--timeout-ms", o.timeout_ms, "an unanswered request counts as an error after this")
      ->check(CLI::Range(1, 600000))->capture_default_str();
  app.add_option("--server-pid", o.server_pid, "the server's pid, for its CPU time and RSS");
  app.add_option("--label", o.label, "a name for the report (kmsd, osmo-hlr)");
  app.add_flag("--verify", o.verify,
               "check every tuple with software Milenage and the file's K/OPc (client CPU: for short runs)");
  app.add_flag("--json", o.json, "JSON output");
  CLI11_PARSE(app, argc, argv);
  if (o.duration <= 0 && o.requests == 0) {
    std::cerr << "ac-bench: give --duration or --requests (the run must be bounded)\n";
    return 2;
  }
  nlohmann::json r;
  bool clean = false;
  if (Status s = RunBench(o, r, clean); !s.ok()) {
    std::cerr << "ac-bench: " << s.ToString() << "\n";
    return 1;
  }
  if (o.json) {
    std::cout << r.dump(2) << "\n";
  } else {
    PrintText(r);
  }
  return clean ? 0 : 3;
}
