#include "tools/kmsctl/online.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/wiped_buffer.h"
#include "sc-engine/engine/record_json.h"

namespace simkms::kmsctl {

StatusOr<nlohmann::ordered_json> SendToKmsd(const GlobalOptions& g, const std::string& command,
                                            const nlohmann::ordered_json& args) {
  using Json = nlohmann::ordered_json;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (g.admin_socket.size() >= sizeof addr.sun_path) return InvalidArgumentError("admin socket path too long");
  std::strncpy(addr.sun_path, g.admin_socket.c_str(), sizeof addr.sun_path - 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) close(fd);
    return UnavailableError("cannot connect to kmsd's admin socket " + g.admin_socket + ": " + std::strerror(errno));
  }
  std::string request = sc::DumpJson(Json{{"command", command}, {"args", args}}) + "\n";
  WipeOnExit wipe_request(request);  // may hold a VER's OP
  std::size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = write(fd, request.data() + sent, request.size() - sent);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string reply;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  // kmsd's reply is read as carefully as any peer's: no accessor that throws.
  Json j = Json::parse(reply, nullptr, /*allow_exceptions=*/false);
  auto ok = j.is_object() ? j.find("ok") : j.end();
  if (!j.is_object() || ok == j.end() || !ok->is_boolean()) {
    return UnavailableError("kmsd's admin socket gave no valid answer");
  }
  if (!ok->get<bool>()) {
    auto error = j.find("error");
    std::string code = "UNKNOWN", message;
    if (error != j.end() && error->is_object()) {
      auto c = error->find("code");
      auto m = error->find("message");
      if (c != error->end() && c->is_string()) code = c->get<std::string>();
      if (m != error->end() && m->is_string()) message = m->get<std::string>();
    }
    return Status(StatusCode::kFailedPrecondition, code + " from kmsd: " + message);
  }
  auto result = j.find("result");
  if (result == j.end()) return UnavailableError("kmsd's admin socket answered ok without a result");
  return *result;
}

}  // namespace simkms::kmsctl
