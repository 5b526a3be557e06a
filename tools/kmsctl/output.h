// kmsctl's output: readable tables by default, JSON with --json (for scripts).
// Only identifiers, counts and KCVs are ever printed; never a key value.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace simkms::kmsctl {

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
// "kcv.mk", "kcv.storage_kek", ... as every ceremony and `status` print them.
void AddKcvFields(const kms::KeyKcvs& kcvs, Fields& fields);
}  // namespace simkms::kmsctl
