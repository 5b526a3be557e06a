#include "base/strict_json.h"

#include <set>

namespace simkms {

StatusOr<nlohmann::ordered_json> ParseStrictJson(std::string_view text, const std::string& what,
                                                 bool allow_comments) {
  using Json = nlohmann::ordered_json;
  // One set of keys per object being parsed; the callback sees each key
  // before its value, so a repeated one is caught whatever its nesting.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  Json::parser_callback_t check = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second &&
            duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  Json j = Json::parse(text.begin(), text.end(), check, /*allow_exceptions=*/false, allow_comments);
  if (j.is_discarded()) return InvalidArgumentError(what + " is not valid JSON");
  if (!duplicate.empty()) {
    SIMKMS_RETURN_IF_ERROR(CheckFreeText(duplicate, what + ": a key"));
    return InvalidArgumentError(what + ": key '" + duplicate + "' appears twice");
  }
  return j;
}

Status CheckFreeText(std::string_view text, const std::string& what) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const bool c1 = c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(text[i + 1]) <= 0x9F;  // U+0080..U+009F in UTF-8
    if (c < 0x20 || c == 0x7F || c1) {
      return InvalidArgumentError(what + " contains a control character at byte " + std::to_string(i));
    }
  }
  return OkStatus();
}

}  // namespace simkms
