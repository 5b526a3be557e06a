// The admin command table (sc-engine/engine/admin_commands.h) against the real
// kmsd, over its admin socket: every command gets every wrong JSON type for every
// argument, a missing required argument and an unknown one. Each is refused with
// INVALID_ARGUMENT naming the argument and its type, kmsd stays up, and nothing
// changes. Before issue 12, {"command":"audit.show","args":{"from":"x"}} threw
// nlohmann::type_error on a crypto worker and aborted kmsd.
// And kmsctl offline, kmsctl through the socket and the operator API give the
// same JSON for the same records (one mapping, sc-engine/engine/record_json.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "sc-engine/engine/admin_commands.h"
#include "tests/e2e/kmsd_fixture.h"

namespace simkms::e2e {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::ordered_json;

class KmsdAdminCommandsTest : public KmsdFixture {
 protected:
  // No epoch closes by age while the test compares the trail's length before and
  // after (kmsd's default closes one every 60 s, which a loaded machine reaches).
  KmsdAdminCommandsTest() { audit_config_ = R"({"epoch_max_seconds": 3600})"; }

  std::string Socket() const { return (token_.dir() / "admin.sock").string(); }

  // One raw line to kmsd's admin socket; what came back before close.
  std::string AdminRequest(const std::string& line) {
    const std::string path = Socket();
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof a.sun_path) return "<path too long>";
    std::copy(path.begin(), path.end(), a.sun_path);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      if (fd >= 0) close(fd);
      return "<refused>";
    }
    send(fd, line.data(), line.size(), MSG_NOSIGNAL);
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string back;
    char chunk[4096];
    for (ssize_t n; (n = recv(fd, chunk, sizeof chunk, 0)) > 0;) back.append(chunk, static_cast<std::size_t>(n));
    close(fd);
    return back;
  }

  // Everything a refused command must leave as it was: the trail's length and
  // head, the VERs and the ranges.
  std::string World() {
    return std::to_string(AuditRecords()) + " " + AdminRequest(R"({"command":"ver.list"})" "\n") +
           AdminRequest(R"({"command":"range.list"})" "\n");
  }

  // kmsd's reply to `command` with `args`; checks it is an INVALID_ARGUMENT
  // whose message contains every one of `expect`.
  void ExpectRefused(const std::string& command, const std::string& args, const std::vector<std::string>& expect) {
    const std::string request = R"({"command":")" + command + R"(","args":)" + args + "}\n";
    const std::string reply = AdminRequest(request);
    const Json j = Json::parse(reply, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(j.is_object()) << request << " -> " << reply;
    EXPECT_EQ(j.value("ok", true), false) << request << " -> " << reply;
    ASSERT_TRUE(j.contains("error") && j["error"].is_object()) << reply;
    EXPECT_EQ(j["error"].value("code", ""), "INVALID_ARGUMENT") << request << " -> " << reply;
    for (const std::string& e : expect) EXPECT_THAT(j["error"].value("message", ""), HasSubstr(e)) << request;
  }
};

// A valid value of each required argument, so that one can be left out alone.
const std::map<std::string, std::string>& ValidValues() {
  static const std::map<std::string, std::string> values = {
      {"ver", "2"},          {"activation_code", R"("required")"}, {"manufacturer", R"("acme")"},
      {"iccid_first", R"(")" + std::string(kIccid0) + R"(")"}, {"imsi_first", R"(")" + std::string(kImsi0) + R"(")"},
      {"count", "10"},      {"max_ki2_age_seconds", "0"}, {"per_second", "0"}, {"per_day", "0"}};
  return values;
}

TEST_F(KmsdAdminCommandsTest, EveryWrongTypeForEveryArgumentIsRefusedByNameAndChangesNothing) {
  const std::string before = World();
  ASSERT_THAT(before, HasSubstr("\"ok\":true"));
  struct Wrong {
    std::string kind, json;
  };
  const std::vector<Wrong> wrongs = {
      {"null", "null"},     {"bool", "true"},   {"number", "7"},
      {"negative", "-1"},   {"huge", "18446744073709551616"},   {"beyond_uint32", "4294967296"},
      {"float", "1.5"},     {"string", R"("x")"}, {"control", R"("a\u001b[2Jb")"},
      {"array", "[1]"},     {"object", R"({"a":1})"}};
  std::size_t refused = 0;
  for (const sc::AdminCommandSpec& command : sc::AdminCommandSpecs()) {
    const std::string name(command.name);
    for (const sc::AdminArgSpec& arg : command.args) {
      const std::string arg_name(arg.name);
      const std::string type(sc::AdminArgTypeName(arg.type));
      for (const Wrong& w : wrongs) {
        const bool integer = arg.type == sc::AdminArgType::kUint32 || arg.type == sc::AdminArgType::kUint64;
        // The values that are of the argument's type.
        if (integer && w.kind == "number") continue;
        if (arg.type == sc::AdminArgType::kUint64 && w.kind == "beyond_uint32") continue;
        if (arg.type == sc::AdminArgType::kText && w.kind == "string") continue;
        SCOPED_TRACE(name + " " + arg_name + " " + w.kind);
        const std::vector<std::string> expect =
            w.kind == "control" && arg.type == sc::AdminArgType::kText
                ? std::vector<std::string>{"argument '" + arg_name + "' contains a control character"}
                : std::vector<std::string>{"argument '" + arg_name + "' must be " + type};
        ExpectRefused(name, R"({")" + arg_name + R"(":)" + w.json + "}", expect);
        ++refused;
      }
      if (!arg.required) continue;
      // Every other required argument given, this one missing.
      Json args = Json::object();
      for (const sc::AdminArgSpec& other : command.args) {
        if (other.required && other.name != arg.name) args[std::string(other.name)] = Json::parse(ValidValues().at(std::string(other.name)));
      }
      ExpectRefused(name, args.dump(), {"missing argument '" + arg_name + "' (" + type + ")"});
      ++refused;
    }
    ExpectRefused(name, R"({"bogus":1})", {"unknown argument 'bogus' for " + name});
    ExpectRefused(name, R"([])", {"args must be an object"});
    refused += 2;
  }
  EXPECT_GT(refused, 150u);
  // The finding of issue 12, verbatim.
  ExpectRefused("audit.show", R"({"from":"x"})", {"argument 'from' must be an integer"});
  // The request itself: only "command" and "args", the command a known name.
  EXPECT_THAT(AdminRequest(R"({"command":"ver.list","extra":1})" "\n"), HasSubstr("unknown member"));
  EXPECT_THAT(AdminRequest(R"({"command":7})" "\n"), HasSubstr("request must be"));
  EXPECT_THAT(AdminRequest(R"({"command":"ver.drop"})" "\n"), HasSubstr("unknown command 'ver.drop'"));
  EXPECT_THAT(AdminRequest(R"({"command":"ver.\u001b[2J"})" "\n"), HasSubstr("unknown command (with a control"));
  ASSERT_TRUE(kmsd_->running()) << kmsd_log();
  EXPECT_EQ(World(), before);
  EXPECT_THAT(Http("GET", "/metrics").body, HasSubstr("simkms_admin_requests_total{outcome=\"error\"}"));
}

TEST_F(KmsdAdminCommandsTest, KmsctlOfflineTheAdminSocketAndTheApiGiveTheSameJson) {
  const std::vector<std::vector<std::string>> commands = {
      {"ver", "list"}, {"ver", "show", "--ver", "2"}, {"range", "list"}, {"audit", "show", "--limit", "4"}};
  std::vector<std::string> online_json, online_text;
  for (const auto& c : commands) {
    std::vector<std::string> args{"--admin-socket", Socket(), "--json"};
    args.insert(args.end(), c.begin(), c.end());
    ProcessResult r = Kmsctl(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    online_json.push_back(r.out);
    args.erase(args.begin() + 2);  // the table printed from the same JSON
    r = Kmsctl(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    online_text.push_back(r.out);
  }
  // The operator API's records are the same mapping.
  const Json vers = Json::parse(online_json[0]);
  ASSERT_EQ(vers.size(), 1u);
  EXPECT_EQ(vers[0]["amf"], "8000");  // the API's list had lost AMF (issue 12)
  EXPECT_EQ(Json::parse(Http("GET", "/v1/vers").body), vers);
  EXPECT_EQ(Json::parse(Http("GET", "/v1/ranges").body), Json::parse(online_json[2]));
  EXPECT_THAT(online_text[0], HasSubstr("activation_code"));

  ASSERT_EQ(StopKmsd(), 0) << kmsd_log();
  for (std::size_t i = 0; i < commands.size(); ++i) {
    std::vector<std::string> args{"--json"};
    args.insert(args.end(), commands[i].begin(), commands[i].end());
    ProcessResult offline = Kmsctl(args);
    ASSERT_EQ(offline.exit_code, 0) << offline.err;
    EXPECT_EQ(offline.out, online_json[i]) << ::testing::PrintToString(commands[i]);
    args.erase(args.begin());
    offline = Kmsctl(args);
    EXPECT_EQ(offline.out, online_text[i]) << ::testing::PrintToString(commands[i]);
  }
}

}  // namespace
}  // namespace simkms::e2e
