// simkms-mfr: the chip manufacturer's pre-personalization tool (patent Fig. 1).
// From the operator's K1 export and the manufacturer's RSA private key it makes
// a run of chip images (the cards, each deriving its own Ki_1) and the output
// file the operator receives (ICCID, IMSI, VER per chip; no key).
// Guide and formats: docs/manufacturer.md.
//
// Exit codes: 0 success; 1 refused, failed or interrupted by SIGINT/SIGTERM
// (the message says why; no image and no output file of the run is left
// behind); 2 bad command line.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "base/bytes.h"
#include "base/wiped_buffer.h"
#include "kms/k1_export.h"
#include "tools/mfr/batch_plan.h"
#include "tools/mfr/image_writer.h"
#include "tools/mfr/output_file.h"
#include "tools/mfr/progress_bar.h"
#include "tools/mfr/ver_material.h"

namespace simkms::mfr {
namespace {

// Set by SIGINT/SIGTERM: the run stops and takes its images back.
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);

void OnSignal(int) { g_stop = true; }

void InstallStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

struct Args {
  std::string k1_export;
  std::string key;
  BatchRequest request;
  std::string out_dir;
  std::string output;
  unsigned jobs = 0;  // 0: one per core, at most 2 (docs/manufacturer.md, "Rate")
  bool progress = false;
  bool no_progress = false;
  bool json = false;
};

// Reads a whole file straight into one string (no stream buffer copies left
// behind: the private key's PEM is wiped by the caller after use).
StatusOr<std::string> ReadFile(const std::string& path, const char* what, bool secret) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return NotFoundError(std::string("cannot read ") + what + " " + path);
  }
  if (secret && (st.st_mode & 077) != 0) {
    return PermissionDeniedError(std::string(what) + " " + path +
                                 " is accessible by group or others; chmod 600 it");
  }
  constexpr off_t kMaxSize = 1 << 20;  // an export or a PEM key is a few KB
  if (st.st_size > kMaxSize) return InvalidArgumentError(std::string(what) + " " + path + " is too large");
  std::ifstream in(path, std::ios::binary);
  WipedBuffer<std::string> text(std::string(static_cast<std::size_t>(st.st_size), '\0'));
  if (!in || !in.read(text.get().data(), static_cast<std::streamsize>(text.get().size()))) {
    return NotFoundError(std::string("cannot read ") + what + " " + path);
  }
  return std::move(text.get());
}

std::string Fixed(double v, int digits) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(digits);
  o << v;
  return o.str();
}

Status Run(const Args& args) {
  const auto start = std::chrono::steady_clock::now();
  // 1. Everything that can refuse the run, before anything is written.
  SIMKMS_ASSIGN_OR_RETURN(std::string export_text, ReadFile(args.k1_export, "K1 export", false));
  auto file = kms::K1Export::FromJson(export_text);
  if (!file.ok()) return file.status().WithContext(args.k1_export);
  SIMKMS_ASSIGN_OR_RETURN(BatchPlan plan, PlanBatch(*file, args.request));
  SIMKMS_RETURN_IF_ERROR(CheckOutputAbsent(args.output));
  SIMKMS_ASSIGN_OR_RETURN(std::string key_pem_text, ReadFile(args.key, "manufacturer key", true));
  WipedBuffer<std::string> key_pem(std::move(key_pem_text));
  auto material = OpenK1Export(*file, key_pem.get());
  key_pem = WipedBuffer<std::string>();  // wiped now: the run goes on for minutes
  if (!material.ok()) return material.status().WithContext("K1 export " + args.k1_export);

  // 2. The images, then (durable) the output file that marks the run complete.
  SIMKMS_ASSIGN_OR_RETURN(bool created_dir, PrepareImageDir(args.out_dir, plan));
  unsigned jobs = args.jobs;
  if (jobs == 0) jobs = std::clamp(std::thread::hardware_concurrency(), 1u, 2u);
  const bool draw = args.progress || (!args.no_progress && ::isatty(STDERR_FILENO) == 1);
  ProgressBar bar(stderr, plan.count, draw);
  InstallStopHandlers();
  auto stats =
      WriteChipImages(plan, *material, args.out_dir, jobs, [&](uint64_t done) { bar.Update(done); }, g_stop);
  if (stats.ok()) bar.Finish(plan.count);
  if (!stats.ok() && draw) std::fputc('\n', stderr);
  Status written = stats.ok() ? WriteOutputFile(args.output, plan, material->ver) : stats.status();
  if (!written.ok()) {
    std::error_code ignored;
    if (stats.ok()) {  // the images are complete but unannounced: take them back
      for (uint64_t i = 0; i < plan.count; ++i) {
        auto n = plan.At(i);
        if (n.ok()) std::filesystem::remove(ImagePath(args.out_dir, n->iccid), ignored);
      }
    }
    if (created_dir) std::filesystem::remove(args.out_dir, ignored);
    return written;
  }

  // 3. The summary: identifiers, counts, K1's KCV (already in the export), timing.
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto first = plan.At(0);
  auto last = plan.At(plan.count - 1);
  if (!first.ok() || !last.ok()) return InternalError("cannot number the run");
  nlohmann::ordered_json j;
  j["manufacturer"] = args.request.manufacturer;
  j["ver"] = material->ver;
  j["range"] = plan.range_id;
  j["chips"] = plan.count;
  j["first_iccid"] = first->iccid;
  j["last_iccid"] = last->iccid;
  j["first_imsi"] = first->imsi;
  j["last_imsi"] = last->imsi;
  j["k1_kcv"] = ToHex(material->k1_kcv);
  j["images_dir"] = args.out_dir;
  j["output_file"] = args.output;
  j["jobs"] = stats->jobs;
  j["seconds"] = Fixed(seconds, 3);
  j["chips_per_second"] = Fixed(static_cast<double>(plan.count) / seconds, 0);
  j["build_thread_seconds"] = Fixed(stats->build_thread_seconds, 3);
  j["write_thread_seconds"] = Fixed(stats->write_thread_seconds, 3);
  j["sync_seconds"] = Fixed(stats->sync_seconds, 3);
  if (args.json) {
    std::cout << j.dump(2) << "\n";
  } else {
    for (const auto& [k, v] : j.items()) {
      std::string value = v.is_string() ? v.get<std::string>() : v.dump();
      std::cout << k << ":" << std::string(std::max<std::size_t>(1, 22 - k.size()), ' ') << value << "\n";
    }
  }
  return OkStatus();
}

}  // namespace
}  // namespace simkms::mfr

int main(int argc, char** argv) {
  simkms::mfr::Args args;
  CLI::App app{"simkms-mfr: pre-personalize a run of chips from the operator's K1 export"};
  app.add_option("--k1-export", args.k1_export, "the K1 export file (kmsctl ver export-k1)")->required();
  app.add_option("--key", args.key, "the manufacturer's RSA private key (PEM, owner-only permissions)")->required();
  app.add_option("--manufacturer", args.request.manufacturer, "this manufacturer's name in the export")->required();
  app.add_option("--ver", args.request.ver, "the VER to make")->required();
  app.add_option("--range-start", args.request.range_start, "first ICCID of the run (19 or 20 digits, Luhn digit)")
      ->required();
  app.add_option("--count", args.request.count, "number of chips")->required()->check(CLI::PositiveNumber);
  app.add_option("--out-dir", args.out_dir, "directory for the chip images (created 0700)")->required();
  app.add_option("--output", args.output, "the output file for the operator (CSV; must not exist)")->required();
  app.add_option("--jobs", args.jobs, "worker threads (default: cores, at most 2)");
  auto* progress = app.add_flag("--progress", args.progress, "draw the progress bar even if stderr is no terminal");
  app.add_flag("--no-progress", args.no_progress, "never draw the progress bar")->excludes(progress);
  app.add_flag("--json", args.json, "JSON summary on stdout");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  simkms::Status status = simkms::mfr::Run(args);
  if (!status.ok()) {
    std::cerr << "simkms-mfr: " << status.message() << "\n";
    return 1;
  }
  return 0;
}
