// sc-bench: N simulated chips make first calls against a running kmsd over its
// chip channel, as the OTA gateway carries them (gateway framing,
// sc-engine/protocol/gateway_frame.h), with the chip's own protocol code
// (sc-engine/protocol/chip_role.h) and no APDU layer. A single-threaded epoll
// client over --connections gateway connections keeps --in-flight chips busy;
// optional --think-ms between CHALLENGE and CONFIRM stands for the SMS transit,
// so that many sessions are open in kmsd at once. Bounded by --chips and --seconds.
//
// The chips' HELLOs (ephemeral key generation) are prepared before the clock
// starts, so that the client's own DH work during the run is only the derive.
// kmsd's CPU time and RSS come from /proc/<pid> (--kmsd-pid).
//
// --rekeys: after the first calls, the operator asks kmsd to re-key every
// personalized chip (POST /v1/subscribers/{imsi}/rekey over --operator-api, timed
// apart: kmsd starts no re-key on the chip's word alone), then the same chips
// re-key over the chip channel exactly as they made their first calls (HELLO
// under Ki_2, prepared before the clock); the JSON's "rekey" object holds that
// run's figures, the top-level ones stay the first calls'. --kcv-out writes each
// chip's KCVs (after the first call, final) for checking against kmsd's status.
//
//   sc-bench --chip 127.0.0.1:PORT --k1-export F --mfr-key F --imsi-first IMSI --chips N
//            [--dh-group ffdhe2048|ffdhe3072|p256] [--in-flight 64] [--connections 4]
//            [--seconds 30] [--think-ms 0] [--rate 0] [--timeout-ms 10000] [--kmsd-pid PID] [--json]
//            [--rekeys --operator-api 127.0.0.1:PORT [--api-connections 4]] [--kcv-out FILE]
//            [--export-subscriber-keys FILE]  (bench only: imsi,ki2,opc of the personalized chips, for osmo-hlr)
// Exit: 0 every started chip was personalized (and re-keyed); 3 some failed; 1 set-up failure; 2 bad arguments.
#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "sc-engine/protocol/chip_role.h"
#include "sc-engine/protocol/gateway_frame.h"
#include "softcrypto/software_keys.h"
#include "tools/bench/chip_population.h"
#include "tools/bench/latency.h"
#include "tools/bench/proc_stats.h"
#include "tools/bench/rekey_requests.h"
#include "tools/bench/subscriber_keys.h"

namespace {

using namespace simkms;
using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

enum class Phase { kReady, kWaitChallenge, kThinking, kWaitCommit, kDone, kFailed };

struct Chip {
  protocol::ChipProtocolState state;
  std::unique_ptr<protocol::ChipRole> role;
  Bytes next_packet;  // HELLO prepared before the run, then the CONFIRM while thinking
  Phase phase = Phase::kReady;
  std::size_t conn = 0;
  Clock::time_point started, sent, challenged;
  Clock::duration thought{};
  std::string first_kcv;  // hex KCV of the first call's Ki_2 (--rekeys with --kcv-out)
};

struct Conn {
  int fd = -1;
  protocol::GatewayFrameDecoder decoder;
  std::string out;  // bytes not yet written
  bool want_write = false;
  std::unordered_map<std::string, std::size_t> chip_of_imsi;
};

struct Options {
  std::string chip_addr = "127.0.0.1:4223";
  bench::PopulationSpec population;
  std::string group = "ffdhe2048";
  std::size_t in_flight = 64;
  std::size_t connections = 4;
  double seconds = 30;
  int think_ms = 0;
  double rate = 0;  // chip starts per second; 0: as fast as --in-flight allows
  int timeout_ms = 10000;
  int kmsd_pid = 0;
  bool json = false;
  bool rekeys = false;
  std::string operator_api;  // IPv4:PORT, plaintext, for the re-key requests
  std::size_t api_connections = 4;
  std::string kcv_out;
  std::string subscriber_keys_out;
};

class Bench {
 public:
  Bench(Options o, std::vector<protocol::ChipProtocolState> states) : o_(std::move(o)) {
    chips_.resize(states.size());
    for (std::size_t i = 0; i < states.size(); ++i) {
      chips_[i].state = std::move(states[i]);
      chips_[i].role = std::make_unique<protocol::ChipRole>([]() -> StatusOr<std::string> {
        return NotFoundError("no activation code in the benchmark");
      });
    }
  }

  Status Prepare() {
    for (auto& c : chips_) {
      SIMKMS_ASSIGN_OR_RETURN(c.next_packet, c.role->Start(c.state));
    }
    SIMKMS_RETURN_IF_ERROR(Connect());
    return OkStatus();
  }

  Status Run();
  nlohmann::json Report();

  // Between the first-call run and the re-key run: keeps the personalized chips,
  // has the operator request their re-keys (`requests` gets that step's figures),
  // prepares their re-key HELLOs and reconnects (kmsd may have dropped the idle
  // gateway connections meanwhile). The next Run() re-keys them.
  Status PrepareRekeys(nlohmann::json& requests);
  // One line per chip that completed a call: IMSI, first-call KCV (or "-"), current KCV.
  Status WriteKcvs(const std::string& path) const;
  // The chips whose last call completed: their base_key is the Ki_2 kmsd holds.
  std::vector<const protocol::ChipProtocolState*> PersonalizedChips() const {
    std::vector<const protocol::ChipProtocolState*> out;
    for (const auto& c : chips_) {
      if (c.phase == Phase::kDone) out.push_back(&c.state);
    }
    return out;
  }

 private:
  void ResetCounters();
  Status Connect();
  void StartChips(Clock::time_point now);
  void Send(std::size_t chip_index, Clock::time_point now);
  void Fail(Chip& chip, const std::string& kind);
  void OnFrame(const protocol::GatewayFrame& frame, Clock::time_point now);
  Status Flush(Conn& conn);
  Status OnReadable(Conn& conn);
  void SampleKmsd();
  // Fails every chip waiting on this connection with `kind`; the run goes on.
  void CloseConn(Conn& conn, const std::string& kind);

  Options o_;
  std::vector<Chip> chips_;
  std::vector<Conn> conns_;
  int epoll_fd_ = -1;
  std::size_t next_ = 0, in_flight_ = 0, done_ = 0, max_open_ = 0;
  // Chips between CHALLENGE and COMMIT: a pending session in kmsd each.
  std::size_t sessions_open_ = 0, max_sessions_open_ = 0;
  std::map<std::string, uint64_t> errors_;
  bench::LatencySamples personalization_, round_trip_;
  // Chips thinking (between CHALLENGE and CONFIRM), by due time.
  using Due = std::pair<Clock::time_point, std::size_t>;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> thinking_;
  Clock::time_point start_, first_start_, last_done_;
  std::optional<bench::ProcSample> kmsd_before_, kmsd_after_;
  double kmsd_peak_rss_ = 0;
  double client_cpu_ = 0, elapsed_ = 0;
};

void Bench::ResetCounters() {
  next_ = in_flight_ = done_ = max_open_ = sessions_open_ = max_sessions_open_ = 0;
  errors_.clear();
  personalization_ = {};
  round_trip_ = {};
  thinking_ = {};
  kmsd_before_.reset();
  kmsd_after_.reset();
  kmsd_peak_rss_ = client_cpu_ = elapsed_ = 0;
}

Status Bench::PrepareRekeys(nlohmann::json& requests) {
  std::erase_if(chips_, [](const Chip& c) { return c.phase != Phase::kDone; });
  std::vector<std::string> imsis;
  for (auto& c : chips_) {
    imsis.push_back(c.state.imsi);
    if (!o_.kcv_out.empty()) {
      SIMKMS_ASSIGN_OR_RETURN(Bytes kcv, kms::SoftwareAesKcv(c.state.base_key));
      c.first_kcv = ToHex(kcv);
    }
  }
  SIMKMS_ASSIGN_OR_RETURN(bench::RekeyRequestResult asked,
                          bench::RequestRekeys(o_.operator_api, imsis, o_.api_connections));
  std::size_t kept = 0;
  for (std::size_t i = 0; i < chips_.size(); ++i) {
    if (!asked.accepted[i]) continue;
    if (kept != i) chips_[kept] = std::move(chips_[i]);
    ++kept;
  }
  chips_.resize(kept);
  requests = {{"requested", imsis.size()},
              {"accepted", kept},
              {"seconds", asked.seconds},
              {"requests_per_second", asked.seconds > 0 ? static_cast<double>(imsis.size()) / asked.seconds : 0},
              {"connections", o_.api_connections},
              {"errors", asked.errors}};
  ResetCounters();
  for (auto& c : chips_) {
    c.phase = Phase::kReady;
    c.thought = {};
    SIMKMS_ASSIGN_OR_RETURN(c.next_packet, c.role->Start(c.state));
  }
  for (auto& conn : conns_) {
    if (conn.fd >= 0) close(conn.fd);
  }
  conns_.clear();
  if (epoll_fd_ >= 0) close(epoll_fd_);
  return Connect();
}

Status Bench::WriteKcvs(const std::string& path) const {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& c : chips_) {
    if (c.phase != Phase::kDone) continue;
    SIMKMS_ASSIGN_OR_RETURN(Bytes kcv, kms::SoftwareAesKcv(c.state.base_key));
    out << c.state.imsi << ' ' << (c.first_kcv.empty() ? "-" : c.first_kcv) << ' ' << ToHex(kcv) << '\n';
  }
  out.close();
  if (!out) return UnavailableError("cannot write " + path);
  return OkStatus();
}

Status Bench::Connect() {
  auto endpoint = bench::ParseIpv4Endpoint(o_.chip_addr);
  if (!endpoint.ok()) return InvalidArgumentError("--chip: " + endpoint.status().message());
  sockaddr_in addr = *endpoint;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  conns_.resize(o_.connections);
  for (std::size_t i = 0; i < conns_.size(); ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      return UnavailableError("cannot connect to the chip channel at " + o_.chip_addr + ": " + std::strerror(errno));
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    conns_[i].fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
  for (std::size_t i = 0; i < chips_.size(); ++i) {
    chips_[i].conn = i % conns_.size();
    conns_[chips_[i].conn].chip_of_imsi[chips_[i].state.imsi] = i;
  }
  return OkStatus();
}

Status Bench::Flush(Conn& conn) {
  while (!conn.out.empty()) {
    ssize_t n = ::send(conn.fd, conn.out.data(), conn.out.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return UnavailableError(std::string("send: ") + std::strerror(errno));
    }
    conn.out.erase(0, static_cast<std::size_t>(n));
  }
  bool want = !conn.out.empty();
  if (want != conn.want_write) {
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    ev.data.u64 = static_cast<uint64_t>(&conn - conns_.data());
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, conn.fd, &ev);
    conn.want_write = want;
  }
  return OkStatus();
}

void Bench::Send(std::size_t i, Clock::time_point now) {
  Chip& c = chips_[i];
  auto frame = protocol::EncodeGatewayFrame({protocol::GatewayFrameType::kFromChip, c.state.imsi, c.next_packet});
  if (!frame.ok()) {
    Fail(c, "client:frame");
    return;
  }
  Conn& conn = conns_[c.conn];
  if (conn.fd < 0) {
    Fail(c, "connection-lost");
    return;
  }
  conn.out.append(reinterpret_cast<const char*>(frame->data()), frame->size());
  c.sent = now;
  if (!Flush(conn).ok()) CloseConn(conn, "connection-lost");
}

void Bench::Fail(Chip& c, const std::string& kind) {
  if (c.phase == Phase::kDone || c.phase == Phase::kFailed) return;
  if (c.phase == Phase::kThinking || c.phase == Phase::kWaitCommit) --sessions_open_;
  c.phase = Phase::kFailed;
  ++errors_[kind];
  --in_flight_;
}

void Bench::StartChips(Clock::time_point now) {
  const double since = std::chrono::duration<double>(now - start_).count();
  while (in_flight_ < o_.in_flight && next_ < chips_.size() && since < o_.seconds &&
         (o_.rate <= 0 || static_cast<double>(next_) < 1 + o_.rate * since)) {
    std::size_t i = next_++;
    Chip& c = chips_[i];
    c.phase = Phase::kWaitChallenge;
    c.started = now;
    if (in_flight_++ == 0 && i == 0) first_start_ = now;
    Send(i, now);
  }
  max_open_ = std::max(max_open_, in_flight_);
}

void Bench::OnFrame(const protocol::GatewayFrame& frame, Clock::time_point now) {
  if (frame.type != protocol::GatewayFrameType::kToChip) return;  // keepalive
  // Every connection may carry any IMSI's answer: look in all maps (cheap: few connections).
  std::size_t index = chips_.size();
  for (auto& conn : conns_) {
    if (auto it = conn.chip_of_imsi.find(frame.imsi); it != conn.chip_of_imsi.end()) index = it->second;
  }
  if (index == chips_.size()) {
    ++errors_["client:unknown-imsi"];
    return;
  }
  Chip& c = chips_[index];
  if (c.phase != Phase::kWaitChallenge && c.phase != Phase::kWaitCommit) {
    // Not an error of its own when the chip already gave up (counted as timeout).
    if (c.phase != Phase::kFailed) ++errors_["client:unexpected-packet"];
    return;
  }
  round_trip_.Add(Ms(now - c.sent));
  auto outcome = c.role->OnPacket(c.state, frame.payload);
  if (!outcome.ok()) {
    Fail(c, "chip:" + std::string(StatusCodeName(outcome.status().code())));
    return;
  }
  switch (outcome->kind) {
    case protocol::ChipOutcome::Kind::kSendPacket:
      c.next_packet = std::move(outcome->packet);
      c.challenged = now;
      max_sessions_open_ = std::max(max_sessions_open_, ++sessions_open_);
      c.phase = Phase::kWaitCommit;
      if (o_.think_ms > 0) {
        c.phase = Phase::kThinking;
        thinking_.push({now + std::chrono::milliseconds(o_.think_ms), index});
      } else {
        Send(index, now);
      }
      return;
    case protocol::ChipOutcome::Kind::kCommitted:
      --sessions_open_;
      c.phase = Phase::kDone;
      personalization_.Add(Ms(now - c.started - c.thought));
      --in_flight_;
      ++done_;
      last_done_ = now;
      return;
    case protocol::ChipOutcome::Kind::kRejected: {
      char kind[32];
      std::snprintf(kind, sizeof kind, "sc:error-0x%02x",
                    outcome->error ? static_cast<unsigned>(outcome->error->code) : 0u);
      Fail(c, kind);
      return;
    }
  }
}

Status Bench::OnReadable(Conn& conn) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(conn.fd, buf, sizeof buf, 0);
    if (n == 0) return UnavailableError("kmsd closed a gateway connection");
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return OkStatus();
      return UnavailableError(std::string("recv: ") + std::strerror(errno));
    }
    ByteView input(reinterpret_cast<const uint8_t*>(buf), static_cast<std::size_t>(n));
    auto now = Clock::now();
    while (!input.empty()) {
      SIMKMS_ASSIGN_OR_RETURN(std::size_t used, conn.decoder.Feed(input));
      input = input.subspan(used);
      if (auto frame = conn.decoder.Pop()) OnFrame(*frame, now);
    }
  }
}

void Bench::CloseConn(Conn& conn, const std::string& kind) {
  if (conn.fd < 0) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, conn.fd, nullptr);
  close(conn.fd);
  conn.fd = -1;
  for (const auto& [imsi, index] : conn.chip_of_imsi) {
    Chip& c = chips_[index];
    if (c.phase == Phase::kReady) {
      c.phase = Phase::kFailed;  // never started: not counted
    } else {
      Fail(c, kind);
    }
  }
}

void Bench::SampleKmsd() {
  if (o_.kmsd_pid <= 0) return;
  if (auto s = bench::SampleProcess(o_.kmsd_pid); s.ok()) kmsd_peak_rss_ = std::max(kmsd_peak_rss_, s->rss_mb);
}

Status Bench::Run() {
  const double cpu_before = bench::SelfCpuSeconds();
  if (o_.kmsd_pid > 0) {
    SIMKMS_ASSIGN_OR_RETURN(kmsd_before_, bench::SampleProcess(o_.kmsd_pid));
  }
  start_ = Clock::now();
  first_start_ = last_done_ = start_;
  auto last_sample = start_, last_sweep = start_, last_keepalive = start_;
  const Bytes keepalive = protocol::EncodeGatewayFrame({protocol::GatewayFrameType::kKeepalive, "", {}}).value();
  const auto timeout = std::chrono::milliseconds(o_.timeout_ms);
  const auto hard_stop = start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.seconds)) +
                         timeout + std::chrono::milliseconds(o_.think_ms);
  StartChips(start_);
  epoll_event events[64];
  while (in_flight_ > 0 || (next_ < chips_.size() && Clock::now() - start_ < std::chrono::duration<double>(o_.seconds))) {
    int wait_ms = o_.rate > 0 ? 2 : 50;
    if (!thinking_.empty()) {
      wait_ms = std::clamp(static_cast<int>(Ms(thinking_.top().first - Clock::now())), 0, 50);
    }
    int n = epoll_wait(epoll_fd_, events, 64, wait_ms);
    if (n < 0 && errno != EINTR) return InternalError(std::string("epoll_wait: ") + std::strerror(errno));
    for (int e = 0; e < n; ++e) {
      Conn& conn = conns_[events[e].data.u64];
      if (conn.fd < 0) continue;
      if (events[e].events & EPOLLOUT) {
        if (Status st = Flush(conn); !st.ok()) CloseConn(conn, "connection-lost");
      }
      if (conn.fd >= 0 && (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        if (Status st = OnReadable(conn); !st.ok()) CloseConn(conn, "connection-lost");
      }
    }
    auto now = Clock::now();
    while (!thinking_.empty() && thinking_.top().first <= now) {
      std::size_t i = thinking_.top().second;
      thinking_.pop();
      Chip& c = chips_[i];
      if (c.phase != Phase::kThinking) continue;
      c.thought += now - c.challenged;  // the SMS transit is not the SC's latency
      c.phase = Phase::kWaitCommit;
      Send(i, now);
    }
    if (now - last_sweep > std::chrono::milliseconds(100)) {
      for (auto& c : chips_) {
        if ((c.phase == Phase::kWaitChallenge || c.phase == Phase::kWaitCommit) && now - c.sent > timeout) {
          Fail(c, "timeout");
        }
      }
      last_sweep = now;
    }
    // The gateway's keepalive: kmsd drops a connection silent for limits.read_timeout_ms.
    if (now - last_keepalive > std::chrono::seconds(2)) {
      for (auto& conn : conns_) {
        if (conn.fd < 0) continue;
        conn.out.append(reinterpret_cast<const char*>(keepalive.data()), keepalive.size());
        if (!Flush(conn).ok()) CloseConn(conn, "connection");
      }
      last_keepalive = now;
    }
    if (now - last_sample > std::chrono::milliseconds(100)) {
      SampleKmsd();
      last_sample = now;
    }
    if (now > hard_stop) break;
    StartChips(now);
  }
  auto end = Clock::now();
  for (auto& c : chips_) {
    if (c.phase != Phase::kReady && c.phase != Phase::kDone && c.phase != Phase::kFailed) Fail(c, "unfinished");
  }
  elapsed_ = std::chrono::duration<double>((done_ > 0 ? last_done_ : end) - first_start_).count();
  SampleKmsd();
  if (o_.kmsd_pid > 0) {
    SIMKMS_ASSIGN_OR_RETURN(kmsd_after_, bench::SampleProcess(o_.kmsd_pid));
  }
  client_cpu_ = bench::SelfCpuSeconds() - cpu_before;
  return OkStatus();
}

nlohmann::json Bench::Report() {
  nlohmann::json r;
  r["group"] = o_.group;
  r["chips_started"] = next_;
  r["personalized"] = done_;
  r["max_in_flight"] = max_open_;
  r["max_sessions_open"] = max_sessions_open_;
  r["connections"] = o_.connections;
  r["think_ms"] = o_.think_ms;
  r["rate"] = o_.rate;
  r["seconds"] = elapsed_;
  r["personalizations_per_second"] = elapsed_ > 0 ? static_cast<double>(done_) / elapsed_ : 0;
  r["errors"] = nlohmann::json::object();
  for (const auto& [k, v] : errors_) r["errors"][k] = v;
  r["latency_ms"] = personalization_.Summary();
  r["round_trip_ms"] = round_trip_.Summary();
  r["client_cpu_seconds"] = client_cpu_;
  if (kmsd_before_ && kmsd_after_) {
    double cpu = kmsd_after_->cpu_seconds - kmsd_before_->cpu_seconds;
    r["kmsd"] = {{"cpu_seconds", cpu},
                 {"cpu_cores", elapsed_ > 0 ? cpu / elapsed_ : 0},
                 {"rss_mb_start", kmsd_before_->rss_mb},
                 {"rss_mb_peak_sampled", kmsd_peak_rss_},
                 {"rss_mb_end", kmsd_after_->rss_mb},
                 {"vm_hwm_mb", kmsd_after_->hwm_mb}};
  }
  return r;
}

void PrintText(const nlohmann::json& r) {
  std::printf("group %s: %zu chips started, %zu personalized in %.2f s = %.0f personalizations/s "
              "(max %zu in flight, %zu connections, think %d ms)\n",
              r["group"].get<std::string>().c_str(), r["chips_started"].get<std::size_t>(),
              r["personalized"].get<std::size_t>(), r["seconds"].get<double>(),
              r["personalizations_per_second"].get<double>(), r["max_in_flight"].get<std::size_t>(),
              r["connections"].get<std::size_t>(), r["think_ms"].get<int>());
  for (const char* which : {"latency_ms", "round_trip_ms"}) {
    const auto& l = r[which];
    std::printf("%-14s p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms (%zu samples)\n", which, l["p50"].get<double>(),
                l["p90"].get<double>(), l["p99"].get<double>(), l["max"].get<double>(), l["count"].get<std::size_t>());
  }
  std::printf("errors:");
  if (r["errors"].empty()) std::printf(" none");
  for (const auto& [k, v] : r["errors"].items()) std::printf(" %s=%llu", k.c_str(), v.get<unsigned long long>());
  std::printf("\nclient CPU %.2f s\n", r["client_cpu_seconds"].get<double>());
  if (r.contains("kmsd")) {
    const auto& k = r["kmsd"];
    std::printf("kmsd CPU %.2f s (%.2f cores), RSS %.1f MB at start, %.1f MB peak (sampled), %.1f MB at end\n",
                k["cpu_seconds"].get<double>(), k["cpu_cores"].get<double>(), k["rss_mb_start"].get<double>(),
                k["rss_mb_peak_sampled"].get<double>(), k["rss_mb_end"].get<double>());
  }
  if (r.contains("rekey")) {
    const auto& k = r["rekey"];
    const auto& q = k["requests"];
    std::printf("re-key requests: %zu of %zu accepted in %.2f s = %.0f/s\n", q["accepted"].get<std::size_t>(),
                q["requested"].get<std::size_t>(), q["seconds"].get<double>(), q["requests_per_second"].get<double>());
    const auto& l = k["latency_ms"];
    std::printf("re-keys: %zu of %zu in %.2f s = %.0f re-keys/s; latency p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms\n",
                k["rekeys"].get<std::size_t>(), k["chips_started"].get<std::size_t>(), k["seconds"].get<double>(),
                k["rekeys_per_second"].get<double>(), l["p50"].get<double>(), l["p90"].get<double>(),
                l["p99"].get<double>(), l["max"].get<double>());
    std::printf("re-key errors:");
    if (k["errors"].empty() && q["errors"].empty()) std::printf(" none");
    for (const auto& [kind, v] : k["errors"].items()) std::printf(" %s=%llu", kind.c_str(), v.get<unsigned long long>());
    for (const auto& [kind, v] : q["errors"].items()) {
      std::printf(" request:%s=%llu", kind.c_str(), v.get<unsigned long long>());
    }
    std::printf("\n");
    if (k.contains("kmsd")) {
      std::printf("kmsd during re-keys: CPU %.2f s (%.2f cores), RSS %.1f MB peak (sampled)\n",
                  k["kmsd"]["cpu_seconds"].get<double>(), k["kmsd"]["cpu_cores"].get<double>(),
                  k["kmsd"]["rss_mb_peak_sampled"].get<double>());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sc-bench: simulated chips making first calls against kmsd's chip channel"};
  Options o;
  std::size_t count = 1000;
  app.add_option("--chip", o.chip_addr, "kmsd's chip channel, IPv4:PORT")->required();
  app.add_option("--k1-export", o.population.k1_export_path, "K1 export file of the chips' VER")->required();
  app.add_option("--mfr-key", o.population.mfr_key_path, "the manufacturer's private key (PEM)")->required();
  app.add_option("--imsi-first", o.population.imsi_first, "IMSI of the first contracted chip")->required();
  app.add_option("--chips", count, "chips (consecutive IMSIs, all contracted)")->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  app.add_option("--dh-group", o.group, "the VER's group")->check(CLI::IsMember({"ffdhe2048", "ffdhe3072", "p256"}))
      ->capture_default_str();
  app.add_option("--in-flight", o.in_flight, "chips in a session at once")->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--connections", o.connections, "gateway connections")->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "stop starting chips after this")->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--think-ms", o.think_ms, "delay between CHALLENGE and CONFIRM (SMS transit)")
      ->check(CLI::Range(0, 600000))->capture_default_str();
  app.add_option("--rate", o.rate, "chip starts per second (0: as fast as --in-flight allows)")
      ->check(CLI::Range(0.0, 1e7))->capture_default_str();
  app.add_option("--timeout-ms", o.timeout_ms, "an unanswered packet counts as an error after this")
      ->check(CLI::Range(1, 600000))->capture_default_str();
  app.add_option("--kmsd-pid", o.kmsd_pid, "kmsd's pid, for its CPU time and RSS");
  app.add_flag("--json", o.json, "JSON output");
  auto* api = app.add_option("--operator-api", o.operator_api, "kmsd's plaintext operator API, IPv4:PORT (--rekeys)");
  app.add_flag("--rekeys", o.rekeys, "after the first calls, re-key every personalized chip once")->needs(api);
  app.add_option("--api-connections", o.api_connections, "concurrent operator API connections for the re-key requests")
      ->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--kcv-out", o.kcv_out, "write IMSI, first-call KCV and final KCV of every chip to this file");
  // Bench-only (tools/bench/subscriber_keys.h): the simulated chips know their
  // Ki_2 anyway; scripts/bench.sh provisions osmo-hlr with them for ac-bench.
  app.add_option("--export-subscriber-keys", o.subscriber_keys_out,
                 "BENCH ONLY: write 'imsi,ki2_hex,opc_hex' of every chip whose call completed to this new file "
                 "(mode 0600), to provision a peer AuC (osmo-hlr) with the simulated chips' keys");
  CLI11_PARSE(app, argc, argv);
  o.population.count = count;
  o.population.group = kms::ParseDhGroupKind(o.group).value();

  auto chips = bench::MakeChips(o.population);
  if (!chips.ok()) {
    std::cerr << "sc-bench: " << chips.status().ToString() << "\n";
    return 1;
  }
  Bench bench(o, std::move(chips).value());
  if (Status s = bench.Prepare(); !s.ok()) {
    std::cerr << "sc-bench: " << s.ToString() << "\n";
    return 1;
  }
  if (Status s = bench.Run(); !s.ok()) {
    std::cerr << "sc-bench: " << s.ToString() << "\n";
    return 1;
  }
  nlohmann::json r = bench.Report();
  bool rekey_errors = false;
  if (o.rekeys) {
    nlohmann::json requests;
    if (Status s = bench.PrepareRekeys(requests); !s.ok()) {
      std::cerr << "sc-bench: re-key set-up: " << s.ToString() << "\n";
      return 1;
    }
    if (Status s = bench.Run(); !s.ok()) {
      std::cerr << "sc-bench: " << s.ToString() << "\n";
      return 1;
    }
    nlohmann::json k = bench.Report();
    r["rekey"] = {{"requests", requests},
                  {"chips_started", k["chips_started"]},
                  {"rekeys", k["personalized"]},
                  {"rekeys_per_second", k["personalizations_per_second"]},
                  {"seconds", k["seconds"]},
                  {"max_in_flight", k["max_in_flight"]},
                  {"max_sessions_open", k["max_sessions_open"]},
                  {"errors", k["errors"]},
                  {"latency_ms", k["latency_ms"]},
                  {"round_trip_ms", k["round_trip_ms"]},
                  {"client_cpu_seconds", k["client_cpu_seconds"]}};
    if (k.contains("kmsd")) r["rekey"]["kmsd"] = k["kmsd"];
    rekey_errors = !k["errors"].empty() || !requests["errors"].empty();
  }
  if (!o.kcv_out.empty()) {
    if (Status s = bench.WriteKcvs(o.kcv_out); !s.ok()) {
      std::cerr << "sc-bench: " << s.ToString() << "\n";
      return 1;
    }
  }
  if (!o.subscriber_keys_out.empty()) {
    if (Status s = bench::WriteSubscriberKeys(o.subscriber_keys_out, bench.PersonalizedChips()); !s.ok()) {
      std::cerr << "sc-bench: " << s.ToString() << "\n";
      return 1;
    }
  }
  if (o.json) {
    std::cout << r.dump(2) << "\n";
  } else {
    PrintText(r);
  }
  return r["errors"].empty() && !rekey_errors ? 0 : 3;
}
