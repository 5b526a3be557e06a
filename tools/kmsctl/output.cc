#include "tools/kmsctl/output.h"

#include <algorithm>
#include <ostream>

#include "kms/ceremony.h"
#include "sc-engine/engine/record_json.h"

namespace simkms::kmsctl {

namespace {
// The length of the valid UTF-8 sequence (2..4 bytes, no C1 control) at text[i], or 0.
std::size_t Utf8SequenceAt(const std::string& text, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = b(i);
  const std::size_t n = lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3
                        : lead >= 0xF0 && lead <= 0xF4                   ? 4
                                                                         : 0;
  if (n == 0 || i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  }
  const unsigned char second = b(i + 1);
  if (lead == 0xC2 && second <= 0x9F) return 0;                      // U+0080..U+009F: C1 controls
  if ((lead == 0xE0 && second < 0xA0) || (lead == 0xF0 && second < 0x90)) return 0;  // overlong
  if ((lead == 0xED && second > 0x9F) || (lead == 0xF4 && second > 0x8F)) return 0;  // surrogates, > U+10FFFF
  return n;
}
}  // namespace

std::string EscapeForTerminal(const std::string& text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\\') {
      out += "\\\\";
      ++i;
    } else if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
      ++i;
    } else if (std::size_t n = c >= 0x80 ? Utf8SequenceAt(text, i) : 0; n > 0) {
      out.append(text, i, n);
      i += n;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      ++i;
    }
  }
  return out;
}

void Table::Print(std::ostream& out) const {
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : rows_) {
    std::vector<std::string> escaped;
    for (const std::string& cell : row) escaped.push_back(EscapeForTerminal(cell));
    rows.push_back(std::move(escaped));
  }
  std::vector<std::string> headers;
  for (const std::string& h : headers_) headers.push_back(EscapeForTerminal(h));
  std::vector<std::size_t> width(headers.size());
  for (std::size_t i = 0; i < headers.size(); ++i) width[i] = headers[i].size();
  for (const auto& row : rows) {
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
  line(headers);
  std::vector<std::string> rule;
  for (std::size_t w : width) rule.push_back(std::string(w, '-'));
  line(rule);
  for (const auto& row : rows) line(row);
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
  for (const auto& [k, v] : fields_) width = std::max(width, EscapeForTerminal(k).size());
  for (const auto& [k, v] : fields_) {
    const std::string key = EscapeForTerminal(k);
    out << key << ":" << std::string(width - key.size() + 2, ' ') << EscapeForTerminal(v) << "\n";
  }
}

nlohmann::ordered_json Fields::ToJson() const {
  nlohmann::ordered_json obj;
  for (const auto& [k, v] : fields_) obj[k] = v;
  return obj;
}

}  // namespace simkms::kmsctl

namespace simkms::kmsctl {

void AddKcvFields(const kms::KeyKcvs& k, Fields& f) {
  if (k.mk.empty()) f.Add("kcv.mk", "(on the ceremony token: give --ceremony-pin-file)");
  const nlohmann::ordered_json kcvs = sc::KcvJson(k);
  for (const auto& [key, value] : kcvs.items()) f.Add(key, value.get<std::string>());
}

namespace {

// A cell's text: a string as is, an object as "k=v k=v", anything else as JSON.
std::string Cell(const nlohmann::ordered_json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object()) {
    std::string s;
    for (const auto& [key, value] : v.items()) s += (s.empty() ? "" : " ") + key + "=" + Cell(value);
    return s;
  }
  return sc::DumpJson(v);
}

}  // namespace

void PrintResult(const nlohmann::ordered_json& result, bool as_json, std::ostream& out) {
  if (as_json) {
    out << sc::DumpJson(result, 2) << "\n";
  } else if (result.is_array()) {
    std::vector<std::string> headers;
    for (const auto& row : result) {
      if (!row.is_object()) continue;
      for (const auto& [key, value] : row.items()) {
        if (std::find(headers.begin(), headers.end(), key) == headers.end()) headers.push_back(key);
      }
    }
    Table t(headers);
    for (const auto& row : result) {
      std::vector<std::string> cells;
      for (const auto& h : headers) cells.push_back(row.is_object() && row.contains(h) ? Cell(row[h]) : "");
      t.AddRow(std::move(cells));
    }
    t.Print(out);
  } else if (result.is_object()) {
    Fields f;
    for (const auto& [key, value] : result.items()) {
      if (!value.is_array()) {
        f.Add(key, Cell(value));
        continue;
      }
      for (std::size_t i = 0; i < value.size(); ++i) f.Add(key + "." + std::to_string(i + 1), Cell(value[i]));
    }
    f.Print(out);
  } else {
    out << EscapeForTerminal(sc::DumpJson(result)) << "\n";
  }
}

}  // namespace simkms::kmsctl
