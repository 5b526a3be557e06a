#include "tools/kmsctl/output.h"

#include <algorithm>
#include <ostream>

#include "kms/ceremony.h"

namespace simkms::kmsctl {

void Table::Print(std::ostream& out) const {
  std::vector<std::size_t> width(headers_.size());
  for (std::size_t i = 0; i < headers_.size(); ++i) width[i] = headers_[i].size();
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < width.size(); ++i) {
      std::string cell = i < cells.size() ? cells[i] : "";
      out << cell;
      if (i + 1 < width.size()) out << std::string(width[i] - cell.size() + 2, ' ');
    }
    out << "\n";
  };
  line(headers_);
  std::vector<std::string> rule;
  for (std::size_t w : width) rule.push_back(std::string(w, '-'));
  line(rule);
  for (const auto& row : rows_) line(row);
}

nlohmann::ordered_json Table::ToJson() const {
  nlohmann::ordered_json array = nlohmann::ordered_json::array();
  for (const auto& row : rows_) {
    nlohmann::ordered_json obj;
    for (std::size_t i = 0; i < headers_.size(); ++i) obj[headers_[i]] = i < row.size() ? row[i] : "";
    array.push_back(std::move(obj));
  }
  return array;
}

void Fields::Print(std::ostream& out) const {
  std::size_t width = 0;
  for (const auto& [k, v] : fields_) width = std::max(width, k.size());
  for (const auto& [k, v] : fields_) out << k << ":" << std::string(width - k.size() + 2, ' ') << v << "\n";
}

nlohmann::ordered_json Fields::ToJson() const {
  nlohmann::ordered_json obj;
  for (const auto& [k, v] : fields_) obj[k] = v;
  return obj;
}

}  // namespace simkms::kmsctl

namespace simkms::kmsctl {

void AddKcvFields(const kms::KeyKcvs& k, Fields& f) {
  f.Add("kcv.mk", ToHex(k.mk));
  f.Add("kcv.storage_kek", ToHex(k.storage_kek));
  f.Add("kcv.audit_key", ToHex(k.audit_mac));
  f.Add("kcv.puk_key", ToHex(k.puk_encryption));
  f.Add("kcv.op_key", ToHex(k.op_encryption));
}

}  // namespace simkms::kmsctl
