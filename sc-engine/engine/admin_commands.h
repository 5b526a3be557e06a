// The administrator's commands over the registry and the audit trail (VERs,
// ranges, audit, status), in one table that serves both ways in: kmsd's admin
// socket (sc-engine/daemon/admin_server.cc reads a line, calls RunRequest and
// writes the reply) and kmsctl offline (tools/kmsctl builds the same argument
// object from its command line and calls Run). kmsctl online sends the same
// command names and arguments to the socket, so both print the same JSON
// (record_json.h) for the same record.
//
// Each command has a typed argument schema. Arguments are checked before any
// work, without exceptions: an unknown argument, a value of the wrong JSON type,
// an integer out of its type's range, free text with a control character, a
// byte string that is not hex, or a missing required argument is an
// InvalidArgument naming the argument and the type it must have; nothing changes.
//
// Threading: Run may be called from several threads, each with its own session.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "kms/ceremony_token.h"
#include "kms/registry.h"
#include "kms/token_keys.h"
#include "pkcs11/session.h"
#include "storage/store.h"

namespace simkms::sc {

using AdminJson = nlohmann::ordered_json;

enum class AdminArgType {
  kUint32,     // a JSON integer 0..4294967295
  kUint64,     // a JSON integer 0..18446744073709551615
  kText,       // a JSON string without control characters
  kHex,        // a JSON string of hex digits (bytes)
  kSecretHex,  // as kHex, held in wiped memory (a VER's OP)
};

// "an integer 0..4294967295", "a string", "a string of hex digits".
std::string_view AdminArgTypeName(AdminArgType type);

struct AdminArgSpec {
  std::string_view name;
  AdminArgType type;
  bool required;
};

struct AdminCommandSpec {
  std::string_view name;  // "ver.add"
  std::vector<AdminArgSpec> args;
  bool changes_state;  // false: kmsctl opens the database read-only
};

// Every command, in the order docs/operations.md lists them.
const std::vector<AdminCommandSpec>& AdminCommandSpecs();

class AdminCommands {
 public:
  // `ceremony` (MK's token) only in kmsctl: with it ver.add derives K1 there;
  // without it (kmsd) K1 must already be on the runtime token and ver.add needs k1_kcv.
  AdminCommands(storage::Store& store, const kms::ServiceKeys& keys, kms::CeremonyToken* ceremony = nullptr)
      : store_(store), keys_(keys), ceremony_(ceremony) {}

  // Runs `command` with `args` (a JSON object; null counts as no arguments) as
  // `actor` on `session` (the runtime token's). The result is record_json.h's form.
  StatusOr<AdminJson> Run(p11::Session& session, const kms::Actor& actor, std::string_view command,
                          const AdminJson& args) const;

  // One admin socket request, {"command": "...", "args": {...}}, read strictly
  // (base/strict_json.h) and run.
  StatusOr<AdminJson> RunRequest(p11::Session& session, const kms::Actor& actor, std::string_view request) const;

 private:
  storage::Store& store_;
  const kms::ServiceKeys& keys_;
  kms::CeremonyToken* ceremony_;
};

}  // namespace simkms::sc
