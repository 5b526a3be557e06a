// The admin socket: a local Unix stream socket through which kmsctl does online
// what it does offline while kmsd holds the database (VERs, ranges, audit,
// status). The commands are the engine's table (sc-engine/engine/admin_commands.h),
// which kmsctl also runs offline; this file only reads a line, runs it on a crypto
// worker and writes the reply. Only peers whose UID is root, kmsd's own, or listed in
// admin.uids (checked with SO_PEERCRED) are served; the socket file is 0600.
//
// Protocol: one JSON request per connection, one line: {"command": "...",
// "args": {...}}; one JSON line back: {"ok": true, "result": ...} or
// {"ok": false, "error": {"code", "message"}}. docs/operations.md lists the commands.
//
// The accept loop, cap (admin.max_connections) and back-off are the shared
// Listener's (listener_internal.h), which also makes the socket file 0600 and removes it.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "sc-engine/daemon/listener_internal.h"
#include "sc-engine/daemon/services_internal.h"

namespace simkms::daemon {

// Runs one admin command (on a crypto worker); returns the JSON reply line.
std::string HandleAdminCommand(Services& services, p11::Session& session, const std::string& request,
                               const std::string& peer);

// Binds the socket at path (replacing a stale one) and serves.
StatusOr<std::unique_ptr<UnixListener>> StartAdminListener(boost::asio::io_context& io, const std::string& path,
                                                           Services& services);

}  // namespace simkms::daemon
