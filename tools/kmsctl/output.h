// kmsctl's output: readable tables by default, JSON with --json (for scripts).
// The registry and audit commands print the engine's JSON (sc-engine/engine/record_json.h)
// as it is, or a table / "key: value" lines derived from it (PrintResult), the
// same offline and through kmsd's admin socket.
// Only identifiers, counts and KCVs are ever printed; never a key value.
// Text output escapes every non-printable byte (EscapeForTerminal), so a value
// that came from outside (an order id, a peer name in the audit trail) can
// neither forge a line nor send escape sequences to the terminal.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace simkms::kmsctl {

// Printable ASCII and UTF-8 text as is; a backslash as "\\"; a control byte
// (C0, DEL, the UTF-8 form of a C1 control) or a byte of invalid UTF-8 as "\xNN".
std::string EscapeForTerminal(const std::string& text);

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void Print(std::ostream& out) const;
  // An array of objects keyed by the headers.
  nlohmann::ordered_json ToJson() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// Two-column "key: value" listing.
class Fields {
 public:
  void Add(std::string key, std::string value) { fields_.emplace_back(std::move(key), std::move(value)); }
  void Print(std::ostream& out) const;
  nlohmann::ordered_json ToJson() const;

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

}  // namespace simkms::kmsctl

namespace simkms::kms {
struct KeyKcvs;
}

namespace simkms::kmsctl {
// "kcv.mk", "kcv.storage_kek", ... as every ceremony and `status` print them
// (sc::KcvJson; MK's as a hint when it was not read).
void AddKcvFields(const kms::KeyKcvs& kcvs, Fields& fields);

// A command's JSON result: with `as_json` indented JSON; else an array of objects
// as a Table (columns: every key, in order of first appearance), an object as
// Fields (a list member as key.1, key.2, ...), anything else as its JSON text.
// A nested object in a cell prints as "k=v k=v". Text is escaped as above.
void PrintResult(const nlohmann::ordered_json& result, bool as_json, std::ostream& out);
}  // namespace simkms::kmsctl
