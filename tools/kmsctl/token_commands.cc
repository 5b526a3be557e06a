// `kmsctl token check`: every object on the token against the token policy
// (kms/token_policy.h), the same check kmsd runs at start.
#include <ostream>

#include "kms/token_policy.h"
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

}  // namespace simkms::kmsctl
