// The admin socket: a local Unix stream socket through which kmsctl does online
// what it does offline while kmsd holds the database (VERs, ranges, audit,
// status). Only peers whose UID is root, kmsd's own, or listed in
// admin.uids (checked with SO_PEERCRED) are served; the socket file is 0600.
//
// Protocol: one JSON request per connection, one line: {"command": "...",
// "args": {...}}; one JSON line back: {"ok": true, "result": ...} or
// {"ok": false, "error": {"code", "message"}}. docs/operations.md lists the commands.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <memory>
#include <string>

#include "base/status.h"
#include "sc-engine/daemon/services.h"

namespace simkms::daemon {

// Runs one admin command (on a crypto worker); returns the JSON reply line.
std::string HandleAdminCommand(Services& services, p11::Session& session, const std::string& request,
                               const std::string& peer);

class AdminServer {
 public:
  static StatusOr<std::unique_ptr<AdminServer>> Start(boost::asio::io_context& io, const std::string& path,
                                                      Services& services);
  ~AdminServer();
  void Stop();

 private:
  AdminServer(boost::asio::io_context& io, std::string path, Services& services);
  void Accept();

  boost::asio::io_context& io_;
  std::string path_;
  Services& services_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
};

}  // namespace simkms::daemon
