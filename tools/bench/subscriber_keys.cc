#include "tools/bench/subscriber_keys.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string_view>

#include "base/secret_hex.h"
#include "base/wiped_buffer.h"

namespace simkms::bench {

namespace {

bool AllDigits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

Status WriteSubscriberKeys(const std::string& path, const std::vector<const protocol::ChipProtocolState*>& chips) {
  std::string text;
  WipeOnExit wipe_text(text);  // every subscriber's K and OPc in hex
  for (const auto* chip : chips) {
    // The chip holds its key's OPc (it keeps no OP: docs/protocol.md §2).
    if (chip->opc.size() != 16) return InvalidArgumentError("chip " + chip->imsi + " holds no 16-byte OPc");
    text += chip->imsi + "," + ToHex(chip->base_key.reveal()) + "," + ToHex(chip->opc.reveal()) + "\n";
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  Status result = OkStatus();
  if (fd < 0) {
    result = errno == EEXIST ? AlreadyExistsError(path + " exists; not overwritten")
                             : UnavailableError("cannot create " + path + ": " + std::strerror(errno));
  } else {
    std::size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        result = UnavailableError("cannot write " + path + ": " + std::strerror(errno));
        break;
      }
      done += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0 && result.ok()) result = UnavailableError("cannot write " + path);
  }
  return result;
}

StatusOr<std::vector<SubscriberKey>> ReadSubscribers(const std::string& path, bool need_keys) {
  std::ifstream in(path);
  if (!in) return NotFoundError("cannot read " + path);
  std::vector<SubscriberKey> out;
  std::string line;
  WipeOnExit wipe_line(line);  // the last line read: its K and OPc in hex
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(number) + ": ";
    SubscriberKey s;
    const std::size_t c1 = line.find(',');
    s.imsi = line.substr(0, c1);
    if (!AllDigits(s.imsi) || s.imsi.size() < 6 || s.imsi.size() > 15) {
      return InvalidArgumentError(where + "not an IMSI (6-15 digits)");
    }
    if (c1 != std::string::npos) {
      const std::size_t c2 = line.find(',', c1 + 1);
      if (c2 == std::string::npos) return InvalidArgumentError(where + "expected imsi,k_hex,opc_hex");
      const std::string_view fields(line);
      auto k = SecretFromHex(fields.substr(c1 + 1, c2 - c1 - 1), 16, "K");
      auto opc = SecretFromHex(fields.substr(c2 + 1), 16, "OPc");
      if (!k.ok() || !opc.ok()) return InvalidArgumentError(where + "K and OPc must be 32 hex digits each");
      s.k = std::move(*k);
      s.opc = std::move(*opc);
    } else if (need_keys) {
      return InvalidArgumentError(where + "no keys (imsi,k_hex,opc_hex needed)");
    }
    out.push_back(std::move(s));
  }
  if (out.empty()) return InvalidArgumentError(path + " lists no subscriber");
  return out;
}

}  // namespace simkms::bench
