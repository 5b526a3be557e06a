// kmsctl online: the same commands through kmsd's admin socket (a running
// kmsd holds the database lock). The reply is printed as a table, or as JSON
// with --json.
#pragma once

#include <iosfwd>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "tools/kmsctl/context.h"

namespace simkms::kmsctl {

// Sends {"command", "args"} and prints the result. *chain_ok is false when an
// audit.verify reports a broken chain.
Status RunOnline(const GlobalOptions& g, const std::string& command, const nlohmann::json& args, std::ostream& out,
                 bool* chain_ok);

}  // namespace simkms::kmsctl
