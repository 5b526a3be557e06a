// `kmsctl token check`: every object on the token against the token policy
// (kms/token_policy.h), the same check kmsd runs at start. `kmsctl token probe`:
// what the token can do, against what the appliance needs (kms/token_probe.h).
#include <ostream>

#include "kms/token_policy.h"
#include "kms/token_probe.h"
#include "pkcs11/uri.h"
#include "tools/kmsctl/commands.h"
#include "tools/kmsctl/output.h"

namespace simkms::kmsctl {
namespace {

// "E D W U S V X" style: the functions that are on, in the policy's order.
std::string Functions(const kms::ObservedObject& o) {
  static constexpr std::pair<const char*, const char*> kShort[] = {
      {"CKA_ENCRYPT", "encrypt"}, {"CKA_DECRYPT", "decrypt"}, {"CKA_WRAP", "wrap"},     {"CKA_UNWRAP", "unwrap"},
      {"CKA_SIGN", "sign"},       {"CKA_VERIFY", "verify"},   {"CKA_DERIVE", "derive"}};
  std::string out;
  for (const auto& [attribute, word] : kShort) {
    for (const auto& [name, value] : o.attributes) {
      if (name == attribute && value != "false") out += (out.empty() ? "" : ",") + std::string(word);
    }
  }
  return out.empty() ? "-" : out;
}

std::string Flag(const kms::ObservedObject& o, const char* attribute, const char* word) {
  for (const auto& [name, value] : o.attributes) {
    if (name == attribute) return value == "true" ? word : "!" + std::string(word);
  }
  return "";
}

}  // namespace

Status RunTokenCheck(const GlobalOptions& g, bool ceremony, std::ostream& out) {
  SIMKMS_ASSIGN_OR_RETURN(auto ctx, Context::Open(g));
  if (ceremony) SIMKMS_RETURN_IF_ERROR(ctx->OpenCeremonyToken(/*find_mk=*/false));
  p11::Session& session = ceremony ? ctx->ceremony_session() : ctx->session();
  const std::string label = ceremony ? ctx->ceremony_label() : ctx->token_label();
  SIMKMS_ASSIGN_OR_RETURN(kms::TokenCheck check,
                          kms::CheckTokenObjects(session, ceremony ? kms::TokenRole::kCeremony : kms::TokenRole::kRuntime));
  if (g.json) {
    out << check.ToJson().dump(2) << "\n";
  } else {
    Table t({"label", "class", "policy", "private", "sensitive", "extractable", "modifiable", "functions", "problems"});
    for (const kms::ObservedObject& o : check.objects) {
      std::string problems;
      for (const std::string& p : o.problems) problems += (problems.empty() ? "" : "; ") + p;
      t.AddRow({o.label, o.object_class + (o.key_type.empty() ? "" : " " + o.key_type),
                o.policy.empty() ? "-" : o.policy, Flag(o, "CKA_PRIVATE", "private"),
                Flag(o, "CKA_SENSITIVE", "sensitive"), Flag(o, "CKA_EXTRACTABLE", "extractable"),
                Flag(o, "CKA_MODIFIABLE", "modifiable"), o.object_class == "data" ? "" : Functions(o),
                problems.empty() ? "ok" : problems});
    }
    t.Print(out);
    out << "token " << label << ": " << check.Summary() << "\n";
  }
  if (!check.ok()) {
    return FailedPreconditionError("token " + label + " does not match the token policy: " +
                                   check.Summary());
  }
  return OkStatus();
}

Status RunTokenProbe(const GlobalOptions& g, const TokenProbeArgs& args, std::ostream& out) {
  const std::string module_path = args.module.empty() ? g.module : args.module;
  const std::string uri_text = args.uri.empty() ? g.token : args.uri;
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes pin, p11::ReadPin({g.pin_file, g.pin_env}));
  p11::ModuleOptions options;
  options.init_args = args.init_args;
  SIMKMS_ASSIGN_OR_RETURN(std::shared_ptr<p11::Module> module, p11::Module::Load(module_path, options));
  SIMKMS_ASSIGN_OR_RETURN(p11::TokenUri uri, p11::TokenUri::Parse(uri_text));
  SIMKMS_ASSIGN_OR_RETURN(p11::SlotToken token, module->FindToken(uri));
  StatusOr<kms::ProbeReport> probed = [&]() -> StatusOr<kms::ProbeReport> {
    SIMKMS_ASSIGN_OR_RETURN(p11::Session session, p11::Session::Open(module, token.slot));
    Status login = session.Login(CKU_USER, pin);
    if (!login.ok()) return login.WithContext("log in to token '" + token.label + "'");
    return kms::ProbeToken(session);  // the session, and every object the probe made, closes here
  }();
  SIMKMS_RETURN_IF_ERROR(probed.status());
  const kms::ProbeReport& report = *probed;
  if (g.json || args.json) {
    out << report.ToJson().dump(2) << "\n";
  } else {
    out << "token " << report.token_label << " (" << report.manufacturer << " " << report.model << "), module "
        << module_path << " (" << report.library << ")\n";
    Table t({"check", "needed", "present", "behaves", "used for", "detail"});
    for (const kms::ProbeResult& r : report.results) {
      t.AddRow({r.id, r.required ? "required" : "optional", r.present ? "yes" : "no: " + r.missing,
                r.behaves ? "yes" : "no", r.used_for, r.detail});
    }
    t.Print(out);
    out << report.Summary() << "\n";
  }
  if (!report.ok()) {
    std::string failed;
    for (const std::string& f : report.FailedRequired()) failed += (failed.empty() ? "" : "; ") + f;
    return FailedPreconditionError("token " + report.token_label + " lacks what the appliance requires: " + failed);
  }
  return OkStatus();
}

}  // namespace simkms::kmsctl
