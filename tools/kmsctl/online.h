// kmsctl online: a command of the engine's table (sc-engine/engine/admin_commands.h)
// sent to kmsd's admin socket, for when a running kmsd holds the database lock.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "tools/kmsctl/context.h"

namespace simkms::kmsctl {

// Sends {"command", "args"} to g.admin_socket; kmsd's result, or its error as
// FailedPrecondition "<CODE> from kmsd: <message>".
StatusOr<nlohmann::ordered_json> SendToKmsd(const GlobalOptions& g, const std::string& command,
                                            const nlohmann::ordered_json& args);

}  // namespace simkms::kmsctl
