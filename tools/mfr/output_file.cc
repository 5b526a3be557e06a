#include "tools/mfr/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace simkms::mfr {
namespace {

Status Errno(const std::string& what, const std::filesystem::path& path) {
  return InternalError(what + " " + path.string() + ": " + std::strerror(errno));
}

}  // namespace

Status CheckOutputAbsent(const std::filesystem::path& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    return AlreadyExistsError("output file " + path.string() + " already exists; not overwriting it");
  }
  if (errno != ENOENT) return Errno("cannot stat", path);
  const std::filesystem::path dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return NotFoundError("the output file's directory " + dir.string() + " does not exist");
  }
  return OkStatus();
}

Status WriteOutputFile(const std::filesystem::path& path, const BatchPlan& plan, uint32_t ver) {
  SIMKMS_RETURN_IF_ERROR(CheckOutputAbsent(path));
  std::string text = std::string(kOutputHeader) + "\n";
  text.reserve(text.size() + plan.count * 40);
  const std::string ver_text = std::to_string(ver);
  for (uint64_t i = 0; i < plan.count; ++i) {
    SIMKMS_ASSIGN_OR_RETURN(BatchPlan::Numbers n, plan.At(i));
    text += n.iccid;
    text += ',';
    text += n.imsi;
    text += ',';
    text += ver_text;
    text += '\n';
  }

  const std::filesystem::path dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  std::string tmpl = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return Errno("cannot create a temporary file next to", path);
  Status status;
  std::size_t done = 0;
  while (status.ok() && done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = Errno("cannot write", tmpl);
    } else {
      done += static_cast<std::size_t>(n);
    }
  }
  if (status.ok() && ::fchmod(fd, 0644) != 0) status = Errno("cannot chmod", tmpl);
  if (status.ok() && ::fsync(fd) != 0) status = Errno("cannot fsync", tmpl);
  if (::close(fd) != 0 && status.ok()) status = Errno("cannot close", tmpl);
  if (status.ok() && ::link(tmpl.c_str(), path.c_str()) != 0) {
    status = errno == EEXIST ? AlreadyExistsError("output file " + path.string() + " appeared during the run")
                             : Errno("cannot link", path);
  }
  ::unlink(tmpl.c_str());
  SIMKMS_RETURN_IF_ERROR(status);
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return Errno("cannot open directory", dir);
  const bool synced = ::fsync(dir_fd) == 0;
  ::close(dir_fd);
  if (!synced) return Errno("cannot fsync directory", dir);
  return OkStatus();
}

}  // namespace simkms::mfr
