// kmsd: the simkms appliance daemon. Usage: kmsd --config /etc/simkms/kmsd.json
//
// Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT); 1 if it could not start
// (the message says what to fix); 2 on a bad command line.
#include <CLI/CLI.hpp>
#include <sys/stat.h>

#include <iostream>

#include "sc-engine/daemon/daemon.h"

int main(int argc, char** argv) {
  // Everything kmsd creates (RocksDB files, the admin socket, logs it opens) is
  // the service account's alone, whatever umask it was started with.
  umask(0077);
  CLI::App app{"kmsd: HSM-backed SIM key management daemon"};
  std::string config_path;
  bool check_only = false;
  app.add_option("--config", config_path, "configuration file (JSON)")->required();
  app.add_flag("--check-config", check_only, "validate the configuration and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto config = simkms::daemon::LoadConfig(config_path);
  if (!config.ok()) {
    std::cerr << "kmsd: " << config.status().ToString() << "\n";
    return 1;
  }
  if (check_only) {
    simkms::Status safe = simkms::daemon::CheckSafety(*config);
    std::cerr << "kmsd: " << (safe.ok() ? "configuration OK" : safe.ToString()) << "\n";
    return safe.ok() ? 0 : 1;
  }
  int rc = 0;
  {
    auto daemon = simkms::daemon::Daemon::Create(std::move(*config));
    if (!daemon.ok()) {
      std::cerr << "kmsd: cannot start: " << daemon.status().ToString() << "\n";
      return 1;
    }
    std::cerr << "kmsd: started\n";
    simkms::Status run = (*daemon)->Run();
    if (!run.ok()) {
      std::cerr << "kmsd: " << run.ToString() << "\n";
      rc = 1;
    }
    std::cerr << "kmsd: stopped\n";
  }  // the daemon (and C_Finalize) goes before main returns
  return rc;
}
