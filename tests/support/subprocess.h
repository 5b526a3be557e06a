// Runs a program as the tests' tools are run by people: its own process, with
// arguments, extra environment, optional standard input; captures both outputs.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace simkms::testing {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal if killed by a signal
  std::string out;
  std::string err;
};

ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::vector<std::pair<std::string, std::string>>& extra_env = {},
                         const std::string& stdin_text = "");

}  // namespace simkms::testing
