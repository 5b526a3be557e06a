#include "tools/mfr/image_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "base/wiped_buffer.h"
#include "softcrypto/software_keys.h"
#include "tools/chipsim/chip_image.h"

namespace simkms::mfr {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kChunk = 64;  // indices a worker takes at once

Status Errno(const std::string& what, const std::filesystem::path& path) {
  return InternalError(what + " " + path.string() + ": " + std::strerror(errno));
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

std::string ImageName(std::string_view iccid) { return std::string(iccid) + ".img"; }

Status WriteAll(int fd, std::string_view text, const std::filesystem::path& path) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", path);
    }
    done += static_cast<std::size_t>(n);
  }
  return OkStatus();
}

// One card: pre-personalize, serialise, create the file (never over another).
Status MakeImage(const BatchPlan& plan, const VerMaterial& m, int dir_fd, const std::filesystem::path& dir,
                 uint64_t index, Clock::duration& build, Clock::duration& write) {
  const auto t0 = Clock::now();
  SIMKMS_ASSIGN_OR_RETURN(BatchPlan::Numbers n, plan.At(index));
  SIMKMS_ASSIGN_OR_RETURN(chip::MncLength mnc_length, chip::MncLengthOf(plan.range.mnc_digits));
  auto state = chip::PrePersonalize(n.iccid, n.imsi, mnc_length, m.ver, m.profile, m.k1, m.dh_group, m.op);
  if (!state.ok()) return state.status().WithContext("chip " + n.iccid);
  std::string text = chip::SerializeChipImage(*state);
  WipeOnExit wipe_text(text);  // the card's keys
  const auto t1 = Clock::now();
  const std::string name = ImageName(n.iccid);
  Status status;
  int raw = ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (raw < 0) {
    status = errno == EEXIST ? AlreadyExistsError("chip image " + (dir / name).string() + " appeared during the run")
                             : Errno("cannot create", dir / name);
  } else {
    Fd fd(raw);
    status = WriteAll(fd.get(), text, dir / name);
    if (status.ok() && ::close(fd.release()) != 0) status = Errno("cannot close", dir / name);
    if (!status.ok()) ::unlinkat(dir_fd, name.c_str(), 0);
  }
  build += t1 - t0;
  write += Clock::now() - t1;
  return status;
}

}  // namespace

std::filesystem::path ImagePath(const std::filesystem::path& dir, std::string_view iccid) {
  return dir / ImageName(iccid);
}

StatusOr<bool> PrepareImageDir(const std::filesystem::path& dir, const BatchPlan& plan) {
  struct stat st{};
  bool created = false;
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return Errno("cannot stat", dir);
    if (::mkdir(dir.c_str(), 0700) != 0) return Errno("cannot create directory", dir);
    if (::chmod(dir.c_str(), 0700) != 0) return Errno("cannot chmod", dir);
    created = true;
  } else {
    if (!S_ISDIR(st.st_mode)) return InvalidArgumentError(dir.string() + " is not a directory");
    if ((st.st_mode & 077) != 0) {
      return PermissionDeniedError("image directory " + dir.string() +
                                   " is accessible by group or others (the images hold the cards' keys); chmod 700 it");
    }
    for (uint64_t i = 0; i < plan.count; ++i) {
      SIMKMS_ASSIGN_OR_RETURN(BatchPlan::Numbers n, plan.At(i));
      const std::filesystem::path p = ImagePath(dir, n.iccid);
      if (::lstat(p.c_str(), &st) == 0) {
        return AlreadyExistsError("chip image " + p.string() + " already exists; not overwriting any card");
      }
      if (errno != ENOENT) return Errno("cannot stat", p);
    }
  }
  return created;
}

StatusOr<ImageRunStats> WriteChipImages(const BatchPlan& plan, const VerMaterial& material,
                                        const std::filesystem::path& dir, unsigned jobs,
                                        const std::function<void(uint64_t done)>& progress,
                                        const std::atomic<bool>& stop) {
  const auto start = Clock::now();
  if (jobs == 0) jobs = 1;
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) return Errno("cannot open directory", dir);
  kms::EnsureLegacyDesAvailable();  // once, before the workers (it is lazily initialised)

  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> done{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  Status first_error;  // guarded by error_mu
  // One flag per chip: which files this call created, to undo a failed run.
  std::vector<uint8_t> created(plan.count, 0);
  std::vector<Clock::duration> build(jobs, Clock::duration::zero());
  std::vector<Clock::duration> write(jobs, Clock::duration::zero());

  auto worker = [&](unsigned w) {
    while (!failed.load(std::memory_order_relaxed)) {
      const uint64_t begin = next.fetch_add(kChunk);
      if (begin >= plan.count) return;
      const uint64_t end = std::min(plan.count, begin + kChunk);
      for (uint64_t i = begin; i < end; ++i) {
        Status s = MakeImage(plan, material, dir_fd.get(), dir, i, build[w], write[w]);
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(error_mu);
          if (first_error.ok()) first_error = s;
          failed = true;
          return;
        }
        created[i] = 1;
        done.fetch_add(1, std::memory_order_relaxed);
      }
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(jobs);
  for (unsigned w = 0; w < jobs; ++w) threads.emplace_back(worker, w);
  while (done.load() < plan.count && !failed.load()) {
    if (stop.load()) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (first_error.ok()) first_error = FailedPreconditionError("interrupted; the images of this run are removed again");
      failed = true;
      break;
    }
    if (progress) progress(done.load());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (auto& t : threads) t.join();

  ImageRunStats stats;
  stats.jobs = jobs;
  for (unsigned w = 0; w < jobs; ++w) {
    stats.build_thread_seconds += Seconds(build[w]);
    stats.write_thread_seconds += Seconds(write[w]);
  }
  Status status = first_error;
  const auto sync_start = Clock::now();
  if (status.ok() && (::syncfs(dir_fd.get()) != 0 || ::fsync(dir_fd.get()) != 0)) {
    status = Errno("cannot sync the images to disk in", dir);
  }
  stats.sync_seconds = Seconds(Clock::now() - sync_start);
  if (!status.ok()) {
    for (uint64_t i = 0; i < plan.count; ++i) {
      if (!created[i]) continue;
      auto n = plan.At(i);
      if (n.ok()) ::unlinkat(dir_fd.get(), ImageName(n->iccid).c_str(), 0);
    }
    return status;
  }
  if (progress) progress(done.load());
  stats.wall_seconds = Seconds(Clock::now() - start);
  return stats;
}

}  // namespace simkms::mfr
