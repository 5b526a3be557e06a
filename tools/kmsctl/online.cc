#include "tools/kmsctl/online.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <ostream>

#include "tools/kmsctl/output.h"

namespace simkms::kmsctl {
namespace {

std::string Text(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

void PrintHuman(const nlohmann::json& result, std::ostream& out) {
  if (result.is_array()) {
    std::vector<std::string> headers;
    if (!result.empty() && result[0].is_object()) {
      for (const auto& [k, v] : result[0].items()) headers.push_back(k);
    }
    Table t(headers);
    for (const auto& row : result) {
      std::vector<std::string> cells;
      for (const auto& h : headers) cells.push_back(row.contains(h) ? Text(row[h]) : "");
      t.AddRow(cells);
    }
    t.Print(out);
  } else if (result.is_object()) {
    Fields f;
    for (const auto& [k, v] : result.items()) f.Add(k, Text(v));
    f.Print(out);
  } else {
    out << result.dump() << "\n";
  }
}

}  // namespace

Status RunOnline(const GlobalOptions& g, const std::string& command, const nlohmann::json& args, std::ostream& out,
                 bool* chain_ok) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (g.admin_socket.size() >= sizeof addr.sun_path) return InvalidArgumentError("admin socket path too long");
  std::strncpy(addr.sun_path, g.admin_socket.c_str(), sizeof addr.sun_path - 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) close(fd);
    return UnavailableError("cannot connect to kmsd's admin socket " + g.admin_socket + ": " + std::strerror(errno));
  }
  const std::string request = nlohmann::json{{"command", command}, {"args", args}}.dump() + "\n";
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
  nlohmann::json j = nlohmann::json::parse(reply, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return UnavailableError("kmsd's admin socket gave no valid answer");
  if (!j.value("ok", false)) {
    const auto& e = j["error"];
    return Status(StatusCode::kFailedPrecondition,
                  e.value("code", std::string("UNKNOWN")) + " from kmsd: " + e.value("message", std::string()));
  }
  const nlohmann::json& result = j["result"];
  if (command == "audit.verify" && result.is_object()) *chain_ok = result.value("result", "") == "OK";
  if (g.json) {
    out << result.dump(2) << "\n";
  } else {
    PrintHuman(result, out);
  }
  return OkStatus();
}

}  // namespace simkms::kmsctl
