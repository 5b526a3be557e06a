#include "tools/p11count/counts_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace simkms::p11count {

namespace {

std::string SystemError(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// Whether a mapped file already has exactly this build's layout (same functions in the same order).
bool SameLayout(const CountsHeader& header, const CountsEntry* entries) {
  if (std::memcmp(header.magic, kMagic, sizeof kMagic) != 0 || header.version != kVersion ||
      header.entries != kCountedFunctions) {
    return false;
  }
  for (std::size_t i = 0; i < kCountedFunctions; ++i) {
    if (std::string_view(entries[i].name, strnlen(entries[i].name, kNameSize)) != kFunctionNames[i]) return false;
  }
  return true;
}

}  // namespace

CountsEntry* MapCountsFile(const std::string& path, std::string& error) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = SystemError("cannot open counts file", path);
    return nullptr;
  }
  // Two processes starting together: one writes the header, the other waits for it.
  struct Unlocker {
    int fd;
    ~Unlocker() { close(fd); }  // also releases the flock
  } unlocker{fd};
  if (flock(fd, LOCK_EX) != 0) {
    error = SystemError("cannot lock counts file", path);
    return nullptr;
  }
  struct stat st{};
  if (fstat(fd, &st) != 0) {
    error = SystemError("cannot stat counts file", path);
    return nullptr;
  }
  const bool fresh = st.st_size == 0;
  if (!fresh && static_cast<std::size_t>(st.st_size) != kCountsFileSize) {
    error = "counts file " + path + " has " + std::to_string(st.st_size) + " bytes, not the " +
            std::to_string(kCountsFileSize) + " of layout version " + std::to_string(kVersion) + ": not overwritten";
    return nullptr;
  }
  if (fresh && ftruncate(fd, static_cast<off_t>(kCountsFileSize)) != 0) {
    error = SystemError("cannot size counts file", path);
    return nullptr;
  }
  void* map = mmap(nullptr, kCountsFileSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    error = SystemError("cannot map counts file", path);
    return nullptr;
  }
  auto* header = static_cast<CountsHeader*>(map);
  auto* entries = reinterpret_cast<CountsEntry*>(static_cast<char*>(map) + sizeof(CountsHeader));
  if (fresh) {
    // The file is all zeros (ftruncate): names and counts of zero, then the header,
    // the magic last so that a reader never takes a half-written file for a valid one.
    for (std::size_t i = 0; i < kCountedFunctions; ++i) {
      kFunctionNames[i].copy(entries[i].name, kNameSize - 1);  // the rest stays NUL
    }
    header->version = kVersion;
    header->entries = kCountedFunctions;
    std::memcpy(header->magic, kMagic, sizeof kMagic);
  } else if (!SameLayout(*header, entries)) {
    munmap(map, kCountsFileSize);
    error = "counts file " + path + " is not a P11COUNT file of version " + std::to_string(kVersion) +
            " with this module's functions: not overwritten";
    return nullptr;
  }
  return entries;
}

}  // namespace simkms::p11count
