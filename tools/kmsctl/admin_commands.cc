// The registry and audit commands of the engine's table (sc-engine/engine/admin_commands.h):
// run offline on the token and database, or sent to a running kmsd's admin socket,
// with the same arguments and printed from the same JSON either way.
#include <algorithm>
#include <ostream>

#include "sc-engine/engine/admin_commands.h"
#include "tools/kmsctl/commands.h"
#include "tools/kmsctl/online.h"
#include "tools/kmsctl/output.h"

namespace simkms::kmsctl {
namespace {

StatusOr<nlohmann::ordered_json> RunOffline(const GlobalOptions& g, const std::string& command,
                                            const nlohmann::ordered_json& args) {
  const auto& specs = sc::AdminCommandSpecs();
  auto spec = std::find_if(specs.begin(), specs.end(), [&](const auto& s) { return s.name == command; });
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, Context::Open(g));
  SIMKMS_RETURN_IF_ERROR(ctx->LoadKeys());
  SIMKMS_RETURN_IF_ERROR(ctx->OpenStore(/*read_only=*/spec != specs.end() && !spec->changes_state));
  // Only a VER's K1 needs MK (derived on the ceremony token, moved to the runtime token).
  if (command == "ver.add") SIMKMS_RETURN_IF_ERROR(ctx->OpenCeremonyToken());
  sc::AdminCommands commands(ctx->store(), ctx->keys(), command == "ver.add" ? &ctx->ceremony() : nullptr);
  return commands.Run(ctx->session(), ctx->actor(), command, args);
}

}  // namespace

Status RunAdminCommand(const GlobalOptions& g, const std::string& command, const nlohmann::ordered_json& args,
                       std::ostream& out, bool* chain_ok) {
  auto result = g.admin_socket.empty() ? RunOffline(g, command, args) : SendToKmsd(g, command, args);
  if (!result.ok()) return result.status();
  if (command == "audit.verify") {
    auto verdict = result->is_object() ? result->find("result") : result->end();
    *chain_ok = verdict != result->end() && verdict->is_string() && verdict->get<std::string>() == "OK";
  }
  PrintResult(*result, g.json, out);
  return OkStatus();
}

}  // namespace simkms::kmsctl
