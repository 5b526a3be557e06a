// A real rsyslogd (Debian's rsyslog) as the audit witness's receiver, in a temp dir:
// RFC 5424 over TCP on 127.0.0.1:port, each message one line of witness.log. It runs
// as the test's user (rsyslogd does not need root for an unprivileged port) and stops
// with the object.
#pragma once

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "tests/support/subprocess.h"

namespace simkms::testing {

class Rsyslog {
 public:
  Rsyslog(const std::filesystem::path& dir, uint16_t port) : dir_(dir) {
    std::ofstream conf(dir / "rsyslog.conf");
    conf << "global(workDirectory=\"" << dir.string() << "\")\n"
         << "module(load=\"imtcp\")\n"
         << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << port << "\")\n"
         << "template(name=\"line\" type=\"string\" string=\"%timegenerated:::date-rfc3339% %hostname% "
            "%app-name% %msg%\\n\")\n"
         << "action(type=\"omfile\" file=\"" << log_file().string() << "\" template=\"line\")\n";
    conf.close();
    process_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{"/usr/sbin/rsyslogd", "-n", "-f", (dir / "rsyslog.conf").string(), "-i",
                                 (dir / "rsyslogd.pid").string()},
        std::vector<std::pair<std::string, std::string>>{}, (dir / "rsyslogd.out").string());
  }

  // The receiver's file: one line per witnessed message.
  std::filesystem::path log_file() const { return dir_ / "witness.log"; }
  std::string log() const { return ReadAll(log_file()); }
  std::string output() const { return ReadAll(dir_ / "rsyslogd.out"); }

 private:
  static std::string ReadAll(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::filesystem::path dir_;
  std::unique_ptr<BackgroundProcess> process_;
};

}  // namespace simkms::testing
