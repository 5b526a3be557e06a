// `ver add`'s arguments for the engine's table and `ver export-k1` (a ceremony,
// offline only). The other registry commands are the table's (admin_commands.cc).
#include <ostream>
#include <string>

#include "base/secret_hex.h"
#include "base/wiped_buffer.h"
#include "kms/registry.h"
#include "kms/token_probe.h"
#include "tools/kmsctl/commands.h"
#include "tools/kmsctl/output.h"

namespace simkms::kmsctl {
namespace {

std::string StripSpace(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c))) out.push_back(c);
  }
  return out;
}

// The ceremony half of `ver add` while kmsd holds the database: moves the VER's K1
// from the ceremony token to the runtime token (unless it is there) and returns
// its KCV in hex, which the admin socket's ver.add records.
StatusOr<std::string> MoveK1ForKmsd(const GlobalOptions& g, const VerAddArgs& args) {
  if (args.ver == 0) return InvalidArgumentError("VER must be a positive number");
  SIMKMS_ASSIGN_OR_RETURN(kms::Profile profile, kms::ParseProfile(args.profile));
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, Context::Open(g));
  // Before K1 is made and moved: kmsd would refuse the VER and leave it on its token.
  Status on_token = kms::CheckProfileOnToken(ctx->session(), profile);
  if (!on_token.ok()) return on_token.WithContext("VER " + std::to_string(args.ver));
  SIMKMS_RETURN_IF_ERROR(ctx->OpenCeremonyToken());
  bool moved = false;
  SIMKMS_RETURN_IF_ERROR(ctx->ceremony().EnsureK1(args.ver, profile, &moved).status());
  SIMKMS_ASSIGN_OR_RETURN(Bytes kcv, ctx->ceremony().K1Kcv(args.ver, profile));
  return ToHex(kcv);
}

}  // namespace

StatusOr<nlohmann::ordered_json> VerAddCommandArgs(const GlobalOptions& g, const VerAddArgs& args) {
  // Refused before the token or the database is opened, as before the table.
  SIMKMS_RETURN_IF_ERROR(kms::ParseProfile(args.profile).status());
  nlohmann::ordered_json j{{"ver", args.ver},     {"profile", args.profile},
                           {"dh_group", args.dh_group}, {"amf", args.amf},
                           {"description", args.description}};
  if (args.dh_group == "custom") {
    if (!g.admin_socket.empty()) return InvalidArgumentError("custom DH groups are added offline");
    if (args.dh_p_file.empty()) return InvalidArgumentError("--dh-group custom needs --dh-p-file");
    SIMKMS_ASSIGN_OR_RETURN(std::string p_text, ReadFile(args.dh_p_file));
    j["dh_p"] = StripSpace(p_text);
    std::string g_hex = StripSpace(args.dh_g);
    if (g_hex.size() % 2 == 1) g_hex = "0" + g_hex;
    j["dh_g"] = g_hex;
  }
  if (!g.admin_socket.empty()) {
    // kmsd has no MK: K1 comes from the ceremony token here, kmsd records it.
    SIMKMS_ASSIGN_OR_RETURN(std::string k1_kcv, MoveK1ForKmsd(g, args));
    j["k1_kcv"] = k1_kcv;
  }
  // Last, so that no error path returns with the OP in `j`; the caller wipes it.
  if (!args.op_file.empty()) {
    SIMKMS_ASSIGN_OR_RETURN(std::string op_text, ReadFile(args.op_file));
    WipeOnExit wipe_op_text(op_text);
    std::string op_hex = StripSpace(op_text);
    WipeOnExit wipe_op_hex(op_hex);
    j["op"] = op_hex;
  }
  return j;
}

Status RunVerExportK1(const GlobalOptions& g, const ExportK1Args& args, std::ostream& out) {
  if (args.out_file.empty()) return InvalidArgumentError("export-k1 needs --out FILE");
  SIMKMS_ASSIGN_OR_RETURN(std::string pem, ReadFile(args.pubkey_file));
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, Context::Open(g));
  SIMKMS_RETURN_IF_ERROR(ctx->LoadKeys());
  SIMKMS_RETURN_IF_ERROR(ctx->OpenStore());
  SIMKMS_RETURN_IF_ERROR(ctx->OpenCeremonyToken());
  kms::Registry registry = ctx->MakeRegistry();
  SIMKMS_ASSIGN_OR_RETURN(kms::K1Export e, registry.ExportK1(args.ver, args.manufacturer, pem));
  SIMKMS_RETURN_IF_ERROR(WritePrivateFile(args.out_file, e.ToJson()));
  Fields f;
  f.Add("ver", std::to_string(e.ver));
  f.Add("manufacturer", e.manufacturer);
  f.Add("k1_kcv", ToHex(e.kcv));
  f.Add("wrapping", e.wrapping);
  f.Add("recipient_spki_sha256", ToHex(e.recipient_spki_sha256));
  f.Add("file", args.out_file);
  if (g.json) {
    out << f.ToJson().dump(2) << "\n";
  } else {
    f.Print(out);
  }
  return OkStatus();
}

Status RunVerSync(const GlobalOptions& g, std::ostream& out) {
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, Context::Open(g));
  SIMKMS_RETURN_IF_ERROR(ctx->LoadKeys());
  SIMKMS_RETURN_IF_ERROR(ctx->OpenStore());
  SIMKMS_RETURN_IF_ERROR(ctx->OpenCeremonyToken());
  kms::Registry registry = ctx->MakeRegistry();
  std::vector<uint32_t> moved;
  SIMKMS_ASSIGN_OR_RETURN(std::size_t vers, registry.RederiveAllK1(&moved));
  std::string moved_list;
  for (uint32_t v : moved) moved_list += (moved_list.empty() ? "" : ",") + std::to_string(v);
  if (!moved.empty()) {
    // A new K1 object on this token is a key-lifecycle event of this node.
    SIMKMS_RETURN_IF_ERROR(ctx->store().Commit(
        storage::WriteSet(),
        CeremonyEvent(*ctx, "ver.sync", {{"vers_moved", moved_list}, {"vers_checked", std::to_string(vers)}})));
  }
  Fields f;
  f.Add("token", ctx->token_label());
  f.Add("vers_checked", std::to_string(vers));
  f.Add("vers_moved", moved_list.empty() ? "none" : moved_list);
  if (g.json) {
    out << f.ToJson().dump(2) << "\n";
  } else {
    f.Print(out);
  }
  return OkStatus();
}

}  // namespace simkms::kmsctl
