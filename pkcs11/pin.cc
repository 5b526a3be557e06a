#include "pkcs11/pin.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace simkms::p11 {
namespace {

constexpr std::size_t kMaxPinLength = 255;

StatusOr<SecretBytes> ReadPinFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return NotFoundError("cannot open PIN file " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return InvalidArgumentError("PIN file " + path + " is not a regular file");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    close(fd);
    return PermissionDeniedError("PIN file " + path + " is accessible by group or others (chmod 600 it)");
  }
  SecretBytes buf(kMaxPinLength + 2);
  ssize_t n = read(fd, buf.mutable_data(), buf.size());
  close(fd);
  if (n < 0) return UnavailableError("cannot read PIN file " + path + ": " + std::strerror(errno));
  std::size_t len = 0;
  while (len < static_cast<std::size_t>(n) && buf.reveal()[len] != '\n' && buf.reveal()[len] != '\r') ++len;
  if (len == 0) return InvalidArgumentError("PIN file " + path + " is empty");
  if (len > kMaxPinLength) return InvalidArgumentError("PIN in " + path + " is too long");
  buf.resize(len);
  return buf;
}

}  // namespace

StatusOr<SecretBytes> ReadPin(const PinSource& source) {
  if (source.file.empty() == source.env_var.empty()) {
    return InvalidArgumentError("give exactly one PIN source: a PIN file or an environment variable");
  }
  if (!source.file.empty()) return ReadPinFile(source.file);
  const char* value = std::getenv(source.env_var.c_str());
  if (value == nullptr || *value == '\0') {
    return NotFoundError("environment variable " + source.env_var + " holding the PIN is not set");
  }
  std::size_t len = std::strlen(value);
  if (len > kMaxPinLength) return InvalidArgumentError("PIN in " + source.env_var + " is too long");
  return SecretBytes::Copy({reinterpret_cast<const uint8_t*>(value), len});
}

}  // namespace simkms::p11
