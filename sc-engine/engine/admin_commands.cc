#include "sc-engine/engine/admin_commands.h"

#include <algorithm>
#include <map>

#include "base/secret_hex.h"
#include "base/strict_json.h"
#include "kms/ceremony.h"
#include "sc-engine/engine/record_json.h"

namespace simkms::sc {
namespace {

using Type = AdminArgType;

// At most this many audit records per audit.show (a reply is one line).
constexpr uint64_t kMaxAuditRecordsShown = 10000;

// The arguments of one request, each converted to its schema type.
class Args {
 public:
  bool Has(std::string_view name) const {
    return numbers_.count(name) + texts_.count(name) + bytes_.count(name) + secrets_.count(name) > 0;
  }
  uint64_t Number(std::string_view name, uint64_t fallback = 0) const {
    auto it = numbers_.find(name);
    return it == numbers_.end() ? fallback : it->second;
  }
  std::string Text(std::string_view name, std::string fallback = "") const {
    auto it = texts_.find(name);
    return it == texts_.end() ? fallback : it->second;
  }
  Bytes Hex(std::string_view name, Bytes fallback = {}) const {
    auto it = bytes_.find(name);
    return it == bytes_.end() ? fallback : it->second;
  }
  SecretBytes Secret(std::string_view name) const {
    auto it = secrets_.find(name);
    return it == secrets_.end() ? SecretBytes() : it->second;
  }

  // Converts `value` to `spec`'s type; InvalidArgument naming the argument.
  Status Set(const AdminArgSpec& spec, const AdminJson& value) {
    const std::string what = "argument '" + std::string(spec.name) + "'";
    const std::string name(spec.name);
    switch (spec.type) {
      case Type::kUint32: {
        uint32_t v = 0;
        SIMKMS_RETURN_IF_ERROR(FromJson(value, &v, what));
        numbers_[name] = v;
        return OkStatus();
      }
      case Type::kUint64: {
        uint64_t v = 0;
        SIMKMS_RETURN_IF_ERROR(FromJson(value, &v, what));
        numbers_[name] = v;
        return OkStatus();
      }
      case Type::kText: {
        std::string v;
        SIMKMS_RETURN_IF_ERROR(FromJson(value, &v, what));
        SIMKMS_RETURN_IF_ERROR(CheckFreeText(v, what));
        texts_[name] = std::move(v);
        return OkStatus();
      }
      case Type::kHex:
      case Type::kSecretHex: {
        if (!value.is_string()) return InvalidArgumentError(what + " must be " + std::string(AdminArgTypeName(spec.type)));
        // The string itself stays in the caller's JSON; only the decoded copy is ours.
        const std::string& hex = value.get_ref<const std::string&>();
        const std::string must_be = what + " must be " + std::string(AdminArgTypeName(spec.type));
        if (spec.type == Type::kHex) {
          auto bytes = FromHex(hex);
          if (!bytes.ok()) return InvalidArgumentError(must_be);
          bytes_[name] = std::move(bytes).value();
        } else {
          auto secret = SecretFromHex(hex, what);  // never a plain copy of the value
          if (!secret.ok()) return InvalidArgumentError(must_be);
          secrets_[name] = std::move(secret).value();
        }
        return OkStatus();
      }
    }
    return InternalError(what + ": unknown argument type");
  }

 private:
  std::map<std::string, uint64_t, std::less<>> numbers_;
  std::map<std::string, std::string, std::less<>> texts_;
  std::map<std::string, Bytes, std::less<>> bytes_;
  std::map<std::string, SecretBytes, std::less<>> secrets_;
};

struct Env {
  p11::Session& session;
  storage::Store& store;
  const kms::ServiceKeys& keys;
  kms::CeremonyToken* ceremony;
  const kms::Actor& actor;

  kms::Registry MakeRegistry() const {
    return kms::Registry(session, keys, store, actor, kms::SystemClockMs, ceremony);
  }
};

using Handler = StatusOr<AdminJson> (*)(const Env&, const Args&);

StatusOr<AdminJson> ShowStatus(const Env& e, const Args&) {
  // No kcv.mk: MK is on the ceremony token (kmsctl adds it when it has that token).
  SIMKMS_ASSIGN_OR_RETURN(kms::KeyKcvs kcvs, kms::ReadKcvs(e.session, e.keys));
  SIMKMS_ASSIGN_OR_RETURN(auto vers, e.store.ListVers());
  SIMKMS_ASSIGN_OR_RETURN(auto ranges, e.store.ListRanges());
  SIMKMS_ASSIGN_OR_RETURN(uint64_t subscribers, e.store.CountKeys("subscribers"));
  SIMKMS_ASSIGN_OR_RETURN(storage::AuditCheckpoint head, e.store.AuditHead());
  uint64_t chips = 0;
  for (const auto& r : ranges) chips += r.count;
  AdminJson j = KcvJson(kcvs);
  j["vers"] = vers.size();
  j["ranges"] = ranges.size();
  j["chips_in_ranges"] = chips;
  j["subscriber_records"] = subscribers;
  j["audit_head_seq"] = head.seq;
  return j;
}

StatusOr<AdminJson> VerList(const Env& e, const Args&) {
  SIMKMS_ASSIGN_OR_RETURN(auto vers, e.store.ListVers());
  AdminJson list = AdminJson::array();
  for (const auto& v : vers) list.push_back(VerJson(v));
  return list;
}

StatusOr<AdminJson> VerShow(const Env& e, const Args& a) {
  SIMKMS_ASSIGN_OR_RETURN(storage::VerRecord v, e.store.GetVer(static_cast<uint32_t>(a.Number("ver"))));
  return VerJson(v);
}

StatusOr<AdminJson> VerAdd(const Env& e, const Args& a) {
  kms::NewVer v;
  v.ver = static_cast<uint32_t>(a.Number("ver"));
  SIMKMS_ASSIGN_OR_RETURN(v.profile, kms::ParseProfile(a.Text("profile", "modern")));
  v.dh_group = a.Text("dh_group", "ffdhe2048");
  v.custom_p = a.Hex("dh_p");
  v.custom_g = a.Hex("dh_g");
  v.amf = a.Hex("amf", Bytes{0x80, 0x00});
  v.description = a.Text("description");
  v.op = a.Secret("op");
  // Without the ceremony token (kmsd) K1 was moved to the runtime token by
  // `kmsctl ver add`, which sends the KCV it computed there; with it, ignored.
  v.k1_kcv = a.Hex("k1_kcv");
  SIMKMS_ASSIGN_OR_RETURN(storage::VerRecord record, e.MakeRegistry().AddVer(std::move(v)));
  return VerJson(record);
}

StatusOr<AdminJson> VerPolicy(const Env& e, const Args& a) {
  const std::string code = a.Text("activation_code");
  if (code != "required" && code != "optional") {
    return InvalidArgumentError("argument 'activation_code' must be \"required\" or \"optional\"");
  }
  SIMKMS_ASSIGN_OR_RETURN(storage::VerRecord v, e.MakeRegistry().SetActivationCodePolicy(
                                                    static_cast<uint32_t>(a.Number("ver")), code == "required"));
  AdminJson j = VerJson(v);
  j["policy"] = v.contracts_without_code
                    ? "contracts without an activation code allowed: anyone holding this VER's K1 can take over the "
                      "first call of such a contract"
                    : "an activation code is required for every new contract";
  return j;
}

StatusOr<AdminJson> VerRekeyPolicy(const Env& e, const Args& a) {
  // The registry checks the values against policy/rekey_policy.h's bounds.
  const storage::RekeyPolicy policy{a.Number("max_ki2_age_seconds"), static_cast<uint32_t>(a.Number("per_second")),
                                    static_cast<uint32_t>(a.Number("per_day"))};
  SIMKMS_ASSIGN_OR_RETURN(storage::VerRecord v,
                          e.MakeRegistry().SetRekeyPolicy(static_cast<uint32_t>(a.Number("ver")), policy));
  return VerJson(v);
}

StatusOr<AdminJson> RangeList(const Env& e, const Args&) {
  SIMKMS_ASSIGN_OR_RETURN(auto ranges, e.store.ListRanges());
  AdminJson list = AdminJson::array();
  for (const auto& r : ranges) list.push_back(RangeJson(r));
  return list;
}

StatusOr<AdminJson> RangeAssign(const Env& e, const Args& a) {
  const uint64_t mnc_digits = a.Number("mnc_digits", 2);
  if (mnc_digits != 2 && mnc_digits != 3) return InvalidArgumentError("argument 'mnc_digits' must be 2 or 3");
  SIMKMS_ASSIGN_OR_RETURN(storage::RangeRecord r,
                          e.MakeRegistry().AssignRange(a.Text("manufacturer"), static_cast<uint32_t>(a.Number("ver")),
                                                       a.Text("iccid_first"), a.Text("imsi_first"),
                                                       static_cast<int>(mnc_digits), a.Number("count")));
  return RangeJson(r);
}

StatusOr<AdminJson> AuditVerify(const Env& e, const Args&) {
  SIMKMS_ASSIGN_OR_RETURN(storage::AuditVerifyReport report, e.store.VerifyAudit());
  return AuditVerifyJson(report);
}

StatusOr<AdminJson> AuditShow(const Env& e, const Args& a) {
  const uint64_t limit = std::min(a.Number("limit", 100), kMaxAuditRecordsShown);
  SIMKMS_ASSIGN_OR_RETURN(auto records, e.store.ReadAudit(a.Number("from", 1), static_cast<std::size_t>(limit)));
  AdminJson list = AdminJson::array();
  for (const auto& r : records) list.push_back(AuditRecordJson(r));
  return list;
}

struct Command {
  AdminCommandSpec spec;
  Handler handler;
};

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {{"status", {}, false}, ShowStatus},
      {{"ver.list", {}, false}, VerList},
      {{"ver.show", {{"ver", Type::kUint32, true}}, false}, VerShow},
      {{"ver.add",
        {{"ver", Type::kUint32, true},
         {"profile", Type::kText, false},
         {"dh_group", Type::kText, false},
         {"dh_p", Type::kHex, false},
         {"dh_g", Type::kHex, false},
         {"amf", Type::kHex, false},
         {"description", Type::kText, false},
         {"op", Type::kSecretHex, false},
         {"k1_kcv", Type::kHex, false}},
        true},
       VerAdd},
      {{"ver.policy", {{"ver", Type::kUint32, true}, {"activation_code", Type::kText, true}}, true}, VerPolicy},
      {{"ver.rekey-policy",
        {{"ver", Type::kUint32, true},
         {"max_ki2_age_seconds", Type::kUint64, true},
         {"per_second", Type::kUint32, true},
         {"per_day", Type::kUint32, true}},
        true},
       VerRekeyPolicy},
      {{"range.list", {}, false}, RangeList},
      {{"range.assign",
        {{"manufacturer", Type::kText, true},
         {"ver", Type::kUint32, true},
         {"iccid_first", Type::kText, true},
         {"imsi_first", Type::kText, true},
         {"count", Type::kUint64, true},
         {"mnc_digits", Type::kUint32, false}},
        true},
       RangeAssign},
      {{"audit.verify", {}, false}, AuditVerify},
      {{"audit.show", {{"from", Type::kUint64, false}, {"limit", Type::kUint64, false}}, false}, AuditShow},
  };
  return commands;
}

std::string CommandNames() {
  std::string names;
  for (const Command& c : Commands()) names += (names.empty() ? "" : ", ") + std::string(c.spec.name);
  return names;
}

// Unknown arguments first, then every given one's type (so that an error names
// the argument that is wrong, whatever else is missing), then the missing ones.
StatusOr<Args> ParseArgs(const AdminCommandSpec& spec, const AdminJson& json) {
  const std::string command(spec.name);
  if (!json.is_null() && !json.is_object()) return InvalidArgumentError(command + ": args must be an object");
  std::string takes;
  for (const AdminArgSpec& a : spec.args) takes += (takes.empty() ? "" : ", ") + std::string(a.name);
  if (json.is_object()) {
    for (const auto& [key, value] : json.items()) {
      const bool known = std::any_of(spec.args.begin(), spec.args.end(),
                                     [&key = key](const AdminArgSpec& a) { return a.name == key; });
      if (known) continue;
      const std::string named = CheckFreeText(key, "").ok() ? "'" + key + "'" : "(a name with a control character)";
      return InvalidArgumentError("unknown argument " + named + " for " + command +
                                  (takes.empty() ? " (it takes none)" : " (it takes " + takes + ")"));
    }
  }
  Args args;
  const AdminArgSpec* missing = nullptr;
  for (const AdminArgSpec& a : spec.args) {
    auto it = json.is_object() ? json.find(std::string(a.name)) : json.end();
    if (json.is_object() && it != json.end()) {
      SIMKMS_RETURN_IF_ERROR(args.Set(a, *it));
    } else if (a.required && missing == nullptr) {
      missing = &a;
    }
  }
  if (missing != nullptr) {
    return InvalidArgumentError("missing argument '" + std::string(missing->name) + "' (" +
                                std::string(AdminArgTypeName(missing->type)) + ") for " + command);
  }
  return args;
}

}  // namespace

std::string_view AdminArgTypeName(AdminArgType type) {
  switch (type) {
    case Type::kUint32: return "an integer 0..4294967295";
    case Type::kUint64: return "an integer 0..18446744073709551615";
    case Type::kText: return "a string";
    case Type::kHex:
    case Type::kSecretHex: return "a string of hex digits";
  }
  return "?";
}

const std::vector<AdminCommandSpec>& AdminCommandSpecs() {
  static const std::vector<AdminCommandSpec> specs = [] {
    std::vector<AdminCommandSpec> s;
    for (const Command& c : Commands()) s.push_back(c.spec);
    return s;
  }();
  return specs;
}

StatusOr<AdminJson> AdminCommands::Run(p11::Session& session, const kms::Actor& actor, std::string_view command,
                                       const AdminJson& args) const {
  auto it = std::find_if(Commands().begin(), Commands().end(),
                         [&](const Command& c) { return c.spec.name == command; });
  if (it == Commands().end()) {
    const std::string named = CheckFreeText(command, "").ok() ? "'" + std::string(command) + "'" : "(with a control character)";
    return InvalidArgumentError("unknown command " + named + " (commands: " + CommandNames() + ")");
  }
  SIMKMS_ASSIGN_OR_RETURN(Args parsed, ParseArgs(it->spec, args));
  return it->handler(Env{session, store_, keys_, ceremony_, actor}, parsed);
}

StatusOr<AdminJson> AdminCommands::RunRequest(p11::Session& session, const kms::Actor& actor,
                                              std::string_view request) const {
  SIMKMS_ASSIGN_OR_RETURN(AdminJson j, ParseStrictJson(request, "request"));
  constexpr char kShape[] = "request must be {\"command\": \"...\", \"args\": {...}}";
  if (!j.is_object()) return InvalidArgumentError(kShape);
  for (const auto& [key, value] : j.items()) {
    if (key != "command" && key != "args") return InvalidArgumentError(std::string(kShape) + ": unknown member");
  }
  auto command = j.find("command");
  if (command == j.end() || !command->is_string()) return InvalidArgumentError(kShape);
  auto args = j.find("args");
  return Run(session, actor, command->get_ref<const std::string&>(), args == j.end() ? AdminJson() : *args);
}

}  // namespace simkms::sc
