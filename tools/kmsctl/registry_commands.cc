#include <ostream>
#include <string>

#include "base/secret_hex.h"
#include "base/wiped_buffer.h"
#include "kms/registry.h"
#include "storage/identifiers.h"
#include "tools/kmsctl/commands.h"
#include "tools/kmsctl/output.h"

namespace simkms::kmsctl {
namespace {

StatusOr<std::unique_ptr<Context>> OpenAll(const GlobalOptions& g, bool read_only = false) {
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, Context::Open(g));
  SIMKMS_RETURN_IF_ERROR(ctx->LoadKeys());
  SIMKMS_RETURN_IF_ERROR(ctx->OpenStore(read_only));
  return ctx;
}

std::string StripSpace(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c))) out.push_back(c);
  }
  return out;
}

void VerFields(const storage::VerRecord& v, Fields& f) {
  f.Add("ver", std::to_string(v.ver));
  f.Add("profile", std::string(storage::KeyProfileName(v.profile)));
  f.Add("dh_group", std::string(storage::DhGroupName(v.dh_group)));
  if (v.dh_group == storage::DhGroup::kCustom) {
    f.Add("dh_p_bits", std::to_string(v.custom_p.size() * 8));
    f.Add("dh_g", ToHex(v.custom_g));
  }
  f.Add("amf", ToHex(v.amf));
  f.Add("k1_kcv", ToHex(v.k1_kcv));
  f.Add("op", "sealed (" + std::to_string(v.op_ciphertext.size()) + " bytes)");
  f.Add("description", v.description);
  f.Add("created_at", std::to_string(v.created_at));
  f.Add("activation_code", v.contracts_without_code ? "optional" : "required");
}

void Print(const GlobalOptions& g, const Fields& f, std::ostream& out) {
  if (g.json) {
    out << f.ToJson().dump(2) << "\n";
  } else {
    f.Print(out);
  }
}

void Print(const GlobalOptions& g, const Table& t, std::ostream& out) {
  if (g.json) {
    out << t.ToJson().dump(2) << "\n";
  } else {
    t.Print(out);
  }
}

}  // namespace

Status RunVerAdd(const GlobalOptions& g, const VerAddArgs& args, std::ostream& out) {
  kms::NewVer request;
  request.ver = args.ver;
  SIMKMS_ASSIGN_OR_RETURN(request.profile, kms::ParseProfile(args.profile));
  request.dh_group = args.dh_group;
  request.description = args.description;
  SIMKMS_ASSIGN_OR_RETURN(request.amf, FromHex(args.amf));
  if (args.dh_group == "custom") {
    if (args.dh_p_file.empty()) return InvalidArgumentError("--dh-group custom needs --dh-p-file");
    SIMKMS_ASSIGN_OR_RETURN(std::string p_text, ReadFile(args.dh_p_file));
    auto p = FromHex(StripSpace(p_text));
    if (!p.ok()) return p.status().WithContext("p in " + args.dh_p_file);
    request.custom_p = *p;
    std::string g_hex = StripSpace(args.dh_g);
    if (g_hex.size() % 2 == 1) g_hex = "0" + g_hex;
    auto gen = FromHex(g_hex);
    if (!gen.ok()) return gen.status().WithContext("--dh-g");
    request.custom_g = *gen;
  }
  if (!args.op_file.empty()) {
    SIMKMS_ASSIGN_OR_RETURN(std::string op_text, ReadFile(args.op_file));
    WipeOnExit wipe_op_text(op_text);
    std::string op_hex = StripSpace(op_text);
    WipeOnExit wipe_op_hex(op_hex);
    auto op = SecretFromHex(op_hex, "OP");
    if (!op.ok()) return InvalidArgumentError("OP in " + args.op_file + " is not hex");
    request.op = std::move(*op);
  }
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, OpenAll(g));
  SIMKMS_RETURN_IF_ERROR(ctx->OpenCeremonyToken());
  kms::Registry registry = ctx->MakeRegistry();
  SIMKMS_ASSIGN_OR_RETURN(storage::VerRecord v, registry.AddVer(std::move(request)));
  Fields f;
  VerFields(v, f);
  Print(g, f, out);
  return OkStatus();
}

StatusOr<std::string> MoveK1ForKmsd(const GlobalOptions& g, const VerAddArgs& args) {
  if (args.ver == 0) return InvalidArgumentError("VER must be a positive number");
  SIMKMS_ASSIGN_OR_RETURN(kms::Profile profile, kms::ParseProfile(args.profile));
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, Context::Open(g));
  SIMKMS_RETURN_IF_ERROR(ctx->OpenCeremonyToken());
  bool moved = false;
  SIMKMS_RETURN_IF_ERROR(ctx->ceremony().EnsureK1(args.ver, profile, &moved).status());
  SIMKMS_ASSIGN_OR_RETURN(Bytes kcv, ctx->ceremony().K1Kcv(args.ver, profile));
  return ToHex(kcv);
}

Status RunVerList(const GlobalOptions& g, std::ostream& out) {
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, OpenAll(g, /*read_only=*/true));
  SIMKMS_ASSIGN_OR_RETURN(auto vers, ctx->store().ListVers());
  Table t({"ver", "profile", "dh_group", "amf", "k1_kcv", "activation_code", "description"});
  for (const auto& v : vers) {
    t.AddRow({std::to_string(v.ver), std::string(storage::KeyProfileName(v.profile)),
              std::string(storage::DhGroupName(v.dh_group)), ToHex(v.amf), ToHex(v.k1_kcv),
              v.contracts_without_code ? "optional" : "required", v.description});
  }
  Print(g, t, out);
  return OkStatus();
}

Status RunVerShow(const GlobalOptions& g, uint32_t ver, std::ostream& out) {
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, OpenAll(g, /*read_only=*/true));
  SIMKMS_ASSIGN_OR_RETURN(storage::VerRecord v, ctx->store().GetVer(ver));
  Fields f;
  VerFields(v, f);
  Print(g, f, out);
  return OkStatus();
}

Status RunVerPolicy(const GlobalOptions& g, uint32_t ver, const std::string& activation_code, std::ostream& out) {
  if (activation_code != "required" && activation_code != "optional") {
    return InvalidArgumentError("--activation-code must be required or optional");
  }
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, OpenAll(g));
  kms::Registry registry = ctx->MakeRegistry();
  SIMKMS_ASSIGN_OR_RETURN(storage::VerRecord v, registry.SetActivationCodePolicy(ver, activation_code == "required"));
  Fields f;
  VerFields(v, f);
  f.Add("policy", v.contracts_without_code
                      ? "contracts without an activation code allowed: anyone holding this VER's K1 can take over "
                        "the first call of such a contract"
                      : "an activation code is required for every new contract");
  Print(g, f, out);
  return OkStatus();
}

Status RunVerExportK1(const GlobalOptions& g, const ExportK1Args& args, std::ostream& out) {
  if (args.out_file.empty()) return InvalidArgumentError("export-k1 needs --out FILE");
  SIMKMS_ASSIGN_OR_RETURN(std::string pem, ReadFile(args.pubkey_file));
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, OpenAll(g));
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
  Print(g, f, out);
  return OkStatus();
}

Status RunRangeAssign(const GlobalOptions& g, const RangeAssignArgs& args, std::ostream& out) {
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, OpenAll(g));
  kms::Registry registry = ctx->MakeRegistry();
  SIMKMS_ASSIGN_OR_RETURN(storage::RangeRecord r, registry.AssignRange(args.manufacturer, args.ver, args.iccid_first,
                                                                       args.imsi_first, args.mnc_digits, args.count));
  Fields f;
  f.Add("id", r.id);
  f.Add("manufacturer", r.manufacturer);
  f.Add("ver", std::to_string(r.ver));
  f.Add("iccid", storage::FormatIccid(r.iccid_first) + ".." + storage::FormatIccid(r.iccid_last()));
  f.Add("imsi", storage::FormatImsi(r.imsi_first) + ".." + storage::FormatImsi(r.imsi_last()));
  f.Add("count", std::to_string(r.count));
  Print(g, f, out);
  return OkStatus();
}

Status RunRangeList(const GlobalOptions& g, std::ostream& out) {
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, OpenAll(g, /*read_only=*/true));
  SIMKMS_ASSIGN_OR_RETURN(auto ranges, ctx->store().ListRanges());
  Table t({"id", "manufacturer", "ver", "iccid_first", "iccid_last", "imsi_first", "imsi_last", "count"});
  for (const auto& r : ranges) {
    t.AddRow({r.id, r.manufacturer, std::to_string(r.ver), storage::FormatIccid(r.iccid_first),
              storage::FormatIccid(r.iccid_last()), storage::FormatImsi(r.imsi_first),
              storage::FormatImsi(r.imsi_last()), std::to_string(r.count)});
  }
  Print(g, t, out);
  return OkStatus();
}

}  // namespace simkms::kmsctl
