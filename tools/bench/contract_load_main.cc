// contract-load: contracts a run of consecutive ICCIDs over kmsd's operator API
// (POST /v1/contracts, plaintext HTTP on loopback, as scripts/bench.sh's kmsd
// serves it), with --in-flight keep-alive connections each carrying one request
// at a time, so that at most that many requests are in flight. The order id of
// ICCID x is "<prefix>-<x>": a re-run with the same prefix finds the same
// subscribers (kmsd answers the existing one) instead of failing, so a filled
// database can be grown or a broken fill resumed.
//
//   contract-load --api 127.0.0.1:PORT --iccid-first ICCID --count N [--in-flight K] [--json]
//
// Reports contracts/s, latency percentiles and errors by HTTP status ("http:404")
// or "connection"; exit 0 when every request was answered 201 or 200, 1 when
// some were not, 2 on a usage error or when kmsd cannot be reached at all.
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "storage/identifiers.h"
#include "tools/bench/api_connection.h"
#include "tools/bench/latency.h"

namespace simkms::bench {
namespace {

struct Options {
  std::string api;
  std::string iccid_first;
  std::size_t count = 0;
  std::size_t in_flight = 8;
  std::string order_prefix = "load";
  uint32_t ver = 0;  // 0: not sent
  double progress_seconds = 0;
  bool json = false;
};

struct Tally {
  std::mutex mu;
  uint64_t created_or_same = 0;  // 201
  uint64_t ok_200 = 0;
  std::map<std::string, uint64_t> errors;
  LatencySamples latency;
};

std::string ContractBody(const Options& o, const std::string& iccid) {
  nlohmann::json j{{"order_id", o.order_prefix + "-" + iccid}, {"iccid", iccid}};
  if (o.ver != 0) j["ver"] = o.ver;
  return j.dump();
}

int Run(const Options& o) {
  auto addr = ParseIpv4Endpoint(o.api);
  auto first = storage::ParseIccidBody(o.iccid_first);
  for (const Status& s : {addr.status(), first.status()}) {
    if (!s.ok()) {
      std::cerr << "contract-load: " << s.ToString() << "\n";
      return 2;
    }
  }
  if (!storage::IccidIntervalFits(*first, o.count)) {
    std::cerr << "contract-load: the run leaves the ICCIDs of --iccid-first's length\n";
    return 2;
  }
  {
    ApiConnection probe(*addr);  // fail early, with the reason, when nothing listens
    if (Status s = probe.Open(); !s.ok()) {
      std::cerr << "contract-load: " << s.ToString() << "\n";
      return 2;
    }
  }
  Tally tally;
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  auto worker = [&] {
    ApiConnection conn(*addr);
    LatencySamples latency;
    for (std::size_t i = next++; i < o.count; i = next++) {
      const std::string body = ContractBody(o, storage::FormatIccid(*first + i));
      const auto t0 = std::chrono::steady_clock::now();
      auto status = conn.Post("/v1/contracts", body);
      if (!status.ok()) status = conn.Post("/v1/contracts", body);  // reopened once; the order id makes it safe
      latency.Add(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      ++done;
      std::lock_guard lock(tally.mu);
      if (status.ok() && *status == 201) {
        ++tally.created_or_same;
      } else if (status.ok() && *status == 200) {
        ++tally.ok_200;
      } else {
        ++tally.errors[status.ok() ? "http:" + std::to_string(*status) : "connection"];
      }
    }
    std::lock_guard lock(tally.mu);
    tally.latency.Merge(latency);
  };
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < std::max<std::size_t>(1, o.in_flight); ++t) threads.emplace_back(worker);
  if (o.progress_seconds > 0) {
    // Progress on stderr for long fills: done so far and the rate of the last interval.
    std::size_t last = 0;
    while (done.load() < o.count) {
      for (int w = 0; w < static_cast<int>(o.progress_seconds * 10) && done.load() < o.count; ++w) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      const std::size_t now = done.load();
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::cerr << "contract-load: " << now << " of " << o.count << " after " << static_cast<uint64_t>(elapsed)
                << " s, " << static_cast<uint64_t>((now - last) / o.progress_seconds) << "/s now\n";
      last = now;
    }
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  uint64_t errors = 0;
  for (const auto& [kind, n] : tally.errors) errors += n;
  const uint64_t ok = tally.created_or_same + tally.ok_200;
  nlohmann::ordered_json j{
      {"requested", o.count},
      {"in_flight", o.in_flight},
      {"iccid_first", o.iccid_first},
      {"contracted", ok},
      {"answered_201", tally.created_or_same},
      {"answered_200", tally.ok_200},
      {"errors", tally.errors},
      {"seconds", seconds},
      {"contracts_per_second", seconds > 0 ? static_cast<double>(ok) / seconds : 0.0},
      {"latency_ms", tally.latency.Summary()}};
  if (o.json) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << ok << " of " << o.count << " contracted in " << seconds << " s: " << j["contracts_per_second"]
              << " contracts/s, " << errors << " errors " << j["errors"].dump() << "\n";
  }
  return errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace simkms::bench

int main(int argc, char** argv) {
  simkms::bench::Options o;
  CLI::App app{"contract-load: contracts consecutive ICCIDs over kmsd's operator API (plain HTTP)"};
  app.add_option("--api", o.api, "operator API listener, IPv4:PORT (plaintext)")->required();
  app.add_option("--iccid-first", o.iccid_first, "first ICCID (19 or 20 digits with its Luhn digit)")->required();
  app.add_option("--count", o.count, "ICCIDs to contract, consecutive bodies from --iccid-first")->required();
  app.add_option("--in-flight", o.in_flight, "concurrent keep-alive connections, one request each")
      ->check(CLI::Range(1, 1024));
  app.add_option("--order-prefix", o.order_prefix, "order id prefix: order id = PREFIX-ICCID");
  app.add_option("--ver", o.ver, "VER to put in each order (default: none, kmsd takes the range's)");
  app.add_option("--progress", o.progress_seconds, "print progress to stderr every this many seconds");
  app.add_flag("--json", o.json, "JSON result on stdout");
  CLI11_PARSE(app, argc, argv);
  return simkms::bench::Run(o);
}
