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

namespace simkms::testing {

// A program started in the background (a daemon under test); killed with
// SIGKILL when the object dies if still running.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv,
                    const std::vector<std::pair<std::string, std::string>>& extra_env, const std::string& log_path);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  int pid() const { return pid_; }
  void Signal(int signal);
  // Waits for exit; the exit code, or 128 + signal.
  int Wait();
  bool running() const { return pid_ > 0; }

 private:
  int pid_ = -1;
};

}  // namespace simkms::testing
