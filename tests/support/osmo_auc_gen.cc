#include "tests/support/osmo_auc_gen.h"

#include <cstdlib>
#include <sstream>
#include <system_error>
#include <vector>

#include "tests/support/subprocess.h"

namespace simkms::testing {

std::optional<std::filesystem::path> FindOsmoAucGen() {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return std::nullopt;
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    std::filesystem::path candidate = std::filesystem::path(dir) / "osmo-auc-gen";
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
  }
  return std::nullopt;
}

OsmoAucGenResult RunOsmoAucGen(const std::filesystem::path& tool, const std::string& args) {
  std::vector<std::string> argv{tool.string()};
  std::stringstream words(args);
  std::string word;
  while (words >> word) argv.push_back(word);
  ProcessResult process = RunProcess(argv);

  OsmoAucGenResult result;
  result.exit_code = process.exit_code;
  result.output = process.out + process.err;
  std::stringstream lines(process.out + "\n" + process.err);
  std::string line;
  while (std::getline(lines, line)) {
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    const std::size_t first = value.find_first_not_of(" \t");
    const std::size_t last = value.find_last_not_of(" \t\r");
    if (first == std::string::npos) continue;
    result.fields[line.substr(0, colon)] = value.substr(first, last - first + 1);
  }
  return result;
}

}  // namespace simkms::testing
