// Hostile input on every kmsd listener: each gets a clear refusal, changes
// nothing (the subscriber as the API reports it and the audit record count are
// the same after), and the daemon keeps serving a genuine chip and operator.
// The DH values are in packets that authenticate (sealed under the OTA keys of
// Ki_1), so they reach the group check: the SC must answer ERROR 02.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/rand.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "sc-engine/protocol/secured_packet.h"
#include "softcrypto/dh_group.h"
#include "tests/e2e/kmsd_fixture.h"
#include "tests/support/status_testing.h"

namespace simkms::e2e {
namespace {

using Kind = protocol::ChipOutcome::Kind;

class KmsdHostileTest : public KmsdFixture {
 protected:
  // A HELLO that authenticates but carries `y_c`.
  static Bytes HelloWith(protocol::ChipProtocolState& chip, Bytes y_c) {
    protocol::Hello hello;
    hello.kind = chip.personalized ? protocol::SessionKind::kRekey : protocol::SessionKind::kFirstCall;
    hello.ver = chip.ver;
    hello.iccid = chip.iccid;
    RAND_bytes(hello.nonce_c.data(), static_cast<int>(hello.nonce_c.size()));
    hello.y_c = std::move(y_c);
    auto ota = protocol::DeriveOtaCiphers(chip.base_key).value();
    const uint8_t version = chip.personalized ? protocol::kKeyVersionKi2 : protocol::kKeyVersionKi1;
    return protocol::SealPacket(ota.up, version, ++chip.counter_out, protocol::Encode(hello)).value();
  }
  // Everything an attack must leave as it was.
  std::string World(const std::string& imsi) { return SubscriberSnapshot(imsi) + " audit=" + std::to_string(AuditRecords()); }
  std::string Unix(const std::string& bytes) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    const std::string path = (token_.dir() / "admin.sock").string();
    std::copy(path.begin(), path.end(), a.sun_path);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd);
      return "<refused>";
    }
    send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    shutdown(fd, SHUT_WR);
    std::string back;
    char chunk[4096];
    timeval tv{3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (ssize_t n; (n = recv(fd, chunk, sizeof chunk, 0)) > 0;) back.append(chunk, static_cast<std::size_t>(n));
    close(fd);
    return back;
  }
  std::string Raw(uint16_t port, const std::string& bytes) {
    int fd = ConnectLoopback(port);
    if (fd < 0) return "<refused>";
    send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    shutdown(fd, SHUT_WR);
    std::string back;
    char chunk[4096];
    timeval tv{3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (ssize_t n; (n = recv(fd, chunk, sizeof chunk, 0)) > 0;) back.append(chunk, static_cast<std::size_t>(n));
    close(fd);
    return back;
  }
  protocol::ChipRole role_{[]() -> StatusOr<std::string> { return std::string("271828"); }};
};

TEST_F(KmsdHostileTest, BadDhValuesInAuthenticPacketsGetError02AndChangeNothing) {
  const std::string imsi = ContractChip(0);
  protocol::ChipProtocolState chip = MakeChip(imsi);
  const Bytes p = kms::NamedFfdhParams(kms::DhGroupKind::kFfdhe2048).value().p;
  ASSERT_EQ(p.size(), 256u);
  ASSERT_EQ(p.back(), 0xFF);
  Bytes zero(p.size(), 0), one(p.size(), 0), p_minus_1 = p, above(p.size(), 0xFF), short_one{0x01};
  one.back() = 1;
  p_minus_1.back() = 0xFE;
  const std::vector<std::pair<std::string, Bytes>> bad = {
      {"0", zero}, {"1", one}, {"p-1", p_minus_1}, {"p", p}, {">p", above}, {"short", short_one}};
  for (int rekey = 0; rekey < 2; ++rekey) {
    const std::string before = World(imsi);
    for (const auto& [name, y] : bad) {
      SCOPED_TRACE(name + (rekey ? " (re-key)" : " (first call)"));
      auto answer = ChipExchange(imsi, HelloWith(chip, y));
      ASSERT_TRUE(answer.has_value()) << kmsd_log();
      protocol::ChipOutcome out = role_.OnPacket(chip, *answer).value();
      ASSERT_EQ(out.kind, Kind::kRejected);
      ASSERT_TRUE(out.error.has_value());
      EXPECT_EQ(out.error->code, protocol::ErrorCode::kBadDhValue);
    }
    // An empty Y_c does not decode as a HELLO at all: dropped without an answer.
    EXPECT_FALSE(ChipExchange(imsi, HelloWith(chip, {}), 1000).has_value());
    EXPECT_EQ(World(imsi), before);
    EXPECT_EQ(RunCall(chip, role_).kind, Kind::kCommitted);  // and the genuine exchange still works
    ASSERT_EQ(Http("POST", "/v1/subscribers/" + imsi + "/rekey").status, 200);
  }
}

TEST_F(KmsdHostileTest, OffCurveP256PointsInAuthenticPacketsGetError02AndChangeNothing) {
  // A P-256 VER with its own range, made offline, and the manufacturer's K1 of it.
  ASSERT_EQ(StopKmsd(), 0);
  const std::string dir = token_.dir().string();
  auto ok = [](const ProcessResult& r) { ASSERT_EQ(r.exit_code, 0) << r.err << r.out; };
  ok(Kmsctl({"ver", "add", "--ver", "3", "--dh-group", "p256", "--op-file", dir + "/op.hex"}));
  ok(Kmsctl({"ver", "policy", "--ver", "3", "--activation-code", "optional"}));  // the contract below has no code
  ok(Kmsctl({"range", "assign", "--manufacturer", "acme", "--ver", "3", "--iccid-first", "8949001234567900125",
             "--imsi-first", "001019876600000", "--count", "10"}));
  ok(Kmsctl({"ver", "export-k1", "--ver", "3", "--manufacturer", "acme", "--pubkey", dir + "/mfr.pub", "--out",
             dir + "/k1-p256.json"}));
  std::ifstream in(dir + "/k1-p256.json");
  std::stringstream text;
  text << in.rdbuf();
  k1_export_json_ = text.str();
  StartKmsd();
  HttpResult created = Http("POST", "/v1/contracts", R"({"order_id":"p-1","iccid":"8949001234567900125"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string imsi = "001019876600000";
  protocol::ChipProtocolState chip = MakeChip(imsi);
  chip.group = protocol::DhGroup::Named(kms::DhGroupKind::kP256).value();
  ASSERT_EQ(RunCall(chip, role_).kind, Kind::kCommitted) << kmsd_log();  // the genuine P-256 exchange works
  ASSERT_EQ(Http("POST", "/v1/subscribers/" + imsi + "/rekey").status, 200);

  Bytes generator = {0x04};  // G of P-256, then spoiled below
  for (const char* hex : {"6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296",
                          "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"}) {
    Bytes half = FromHex(hex).value();
    generator.insert(generator.end(), half.begin(), half.end());
  }
  Bytes off_curve = generator;
  off_curve.back() ^= 1;
  Bytes x_is_p = generator;  // X = the field prime
  const Bytes field_p = FromHex("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff").value();
  std::copy(field_p.begin(), field_p.end(), x_is_p.begin() + 1);
  Bytes compressed(generator.begin(), generator.begin() + 33);
  compressed[0] = 0x03;
  Bytes zeros(65, 0), hybrid = generator;
  zeros[0] = 0x04;
  hybrid[0] = 0x06;
  const std::vector<std::pair<std::string, Bytes>> bad = {{"off curve", off_curve}, {"x = p", x_is_p},
                                                           {"compressed", compressed}, {"(0,0)", zeros},
                                                           {"infinity", Bytes{0x00}}, {"hybrid", hybrid}};
  const std::string before = World(imsi);
  for (const auto& [name, y] : bad) {
    SCOPED_TRACE(name);
    auto answer = ChipExchange(imsi, HelloWith(chip, y));
    ASSERT_TRUE(answer.has_value()) << kmsd_log();
    protocol::ChipOutcome out = role_.OnPacket(chip, *answer).value();
    ASSERT_EQ(out.kind, Kind::kRejected);
    ASSERT_TRUE(out.error.has_value());
    EXPECT_EQ(out.error->code, protocol::ErrorCode::kBadDhValue);
  }
  EXPECT_EQ(World(imsi), before);
  EXPECT_EQ(RunCall(chip, role_).kind, Kind::kCommitted);
}

TEST_F(KmsdHostileTest, ReplayedAndTamperedPacketsAreDroppedAndChangeNothing) {
  const std::string imsi = ContractChip(0);
  protocol::ChipProtocolState chip = MakeChip(imsi);
  const Bytes hello = role_.Start(chip).value();
  auto challenge = ChipExchange(imsi, hello);
  ASSERT_TRUE(challenge.has_value());
  auto confirm = role_.OnPacket(chip, *challenge).value();
  const std::string before = World(imsi);
  // The same HELLO again (its counter is used): no answer, the session survives.
  EXPECT_FALSE(ChipExchange(imsi, hello, 1000).has_value());
  // A wrong MAC / flipped bits anywhere after the routing header.
  for (std::size_t at : {confirm.packet.size() - 1, confirm.packet.size() / 2, std::size_t{20}}) {
    Bytes tampered = confirm.packet;
    tampered[at] ^= 0x40;
    EXPECT_FALSE(ChipExchange(imsi, tampered, 1000).has_value()) << at;
  }
  // Truncated packets.
  EXPECT_FALSE(ChipExchange(imsi, Bytes(confirm.packet.begin(), confirm.packet.begin() + 10), 1000).has_value());
  EXPECT_EQ(World(imsi), before);
  // The genuine CONFIRM still completes the session.
  auto commit = ChipExchange(imsi, confirm.packet);
  ASSERT_TRUE(commit.has_value()) << kmsd_log();
  EXPECT_EQ(role_.OnPacket(chip, *commit)->kind, Kind::kCommitted);
  // Now the CONFIRM replayed: dropped, the key stays.
  const std::string after = World(imsi);
  EXPECT_FALSE(ChipExchange(imsi, confirm.packet, 1000).has_value());
  EXPECT_EQ(World(imsi), after);
}

TEST_F(KmsdHostileTest, GarbageOnEveryListenerChangesNothingAndKmsdKeepsServing) {
  const std::string imsi = ContractChip(0);
  const std::string before = World(imsi);
  // Operator API: malformed and oversized JSON, unknown fields, wrong types, truncated requests.
  for (const char* body : {"{not json", "[]", "{\"order_id\":1,\"iccid\":\"8949001234567890136\"}",
                           "{\"order_id\":\"o-9\",\"iccid\":\"8949001234567890136\",\"evil\":true}",
                           "{\"order_id\":\"o-9\",\"iccid\":\"8949001234567890136\",\"activation_code\":\"12\"}",
                           "{\"order_id\":\"o-9\"}"}) {
    HttpResult r = Http("POST", "/v1/contracts", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_NE(r.body.find("\"code\""), std::string::npos) << r.body;  // a stable error code
  }
  EXPECT_EQ(Http("POST", "/v1/contracts", std::string(200000, '{')).status, 413);
  EXPECT_EQ(Http("PUT", "/v1/subscribers/" + imsi).status / 100, 4);
  EXPECT_EQ(Http("GET", "/v1/subscribers/" + imsi + "/../../etc/passwd").status / 100, 4);
  Raw(api_port_, "POST /v1/contracts HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"order_id\":");
  Raw(api_port_, "GET /v1/subscribers HTTP/1.1\r\nHost: x\r\nX-Long: " + std::string(100000, 'a') + "\r\n\r\n");
  EXPECT_EQ(Raw(api_port_, std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)).find("201"),
            std::string::npos);
  // Chip channel: oversized, truncated and wrong-direction frames, a bad IMSI field.
  EXPECT_EQ(RawGateway(std::string("\xff\xff\x00\x00\x01", 5)), "");
  EXPECT_EQ(RawGateway(std::string("\x00\x30\x01\x26\x02", 5)), "");
  auto to_chip = protocol::EncodeGatewayFrame({protocol::GatewayFrameType::kToChip, imsi, Bytes{1, 2, 3}});
  ASSERT_OK(to_chip);
  EXPECT_EQ(RawGateway(std::string(to_chip->begin(), to_chip->end())), "");
  // Each listener's protocol on the wrong listener.
  EXPECT_EQ(RawGateway("POST /v1/contracts HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"), "");
  EXPECT_EQ(Raw(api_port_, std::string(to_chip->begin(), to_chip->end())).find("201"), std::string::npos);
  EXPECT_EQ(Raw(gsup_port_, "GET /v1/subscribers/" + imsi + " HTTP/1.1\r\n\r\n").find("200"), std::string::npos);
  // Admin socket, metrics and GSUP: garbage.
  Unix("this is not a request\n");
  Unix(std::string(1 << 20, 'x'));
  Unix(std::string("{\"cmd\":\"ver add\",\"args\":{\"ver\":\"x\"}}\n"));
  EXPECT_EQ(Raw(metrics_port_, "BREW /coffee HTCPCP/1.0\r\n\r\n").find("200 OK"), std::string::npos);
  Raw(gsup_port_, std::string("\x00\x05\xee\x05garbage", 11));
  Raw(gsup_port_, std::string("\xff\xff\xee", 3) + std::string(70000, 'g'));

  ASSERT_TRUE(kmsd_->running()) << kmsd_log();
  EXPECT_EQ(World(imsi), before);
  EXPECT_EQ(Http("GET", "/healthz").status, 200);
  protocol::ChipProtocolState chip = MakeChip(imsi);
  EXPECT_EQ(RunCall(chip, role_).kind, Kind::kCommitted);
  EXPECT_EQ(Kmsctl({"--admin-socket", (token_.dir() / "admin.sock").string(), "status"}).exit_code, 0);
}

// Issue 11, the lesser findings: free text with control characters, integers
// beyond their type and keys given twice are refused at the API with a clear
// error (not stored, not narrowed, not "the last wins") and change nothing.
TEST_F(KmsdHostileTest, ControlCharactersOutOfRangeIntegersAndDuplicateKeysAreRefused) {
  const std::string imsi = ContractChip(0);
  const std::string before = World(imsi);
  const std::string iccid1 = R"("iccid":"8949001234567890136")";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"order_id":"o-1\u001b[31mred",)" + iccid1 + "}", "field 'order_id' contains a control character"},
      {R"({"order_id":"o-1\n42  forged line",)" + iccid1 + "}", "field 'order_id' contains a control character"},
      {R"({"order_id":"o-1\u009b31m",)" + iccid1 + "}", "field 'order_id' contains a control character"},
      // 2^32 + 2 was taken as VER 2 (a uint32 narrowing) and contracted the chip.
      {R"({"order_id":"o-2",)" + iccid1 + R"(,"ver":4294967298})", "field 'ver' must be an integer 0..4294967295"},
      {R"({"order_id":"o-2",)" + iccid1 + R"(,"ver":-2})", "field 'ver' must be an integer 0..4294967295"},
      {R"({"order_id":"o-2",)" + iccid1 + R"(,"ver":2.0})", "field 'ver' must be an integer 0..4294967295"},
      {R"({"order_id":"o-3",)" + iccid1 + R"(,"order_id":"o-4"})", "request body: key 'order_id' appears twice"},
      {R"({"order_id":"o-5",)" + iccid1 + R"(,"activation_code":"271828","activation_code":"314159"})",
       "key 'activation_code' appears twice"},
  };
  for (const auto& [body, message] : cases) {
    HttpResult r = Http("POST", "/v1/contracts", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_THAT(r.body, ::testing::HasSubstr("\"INVALID_ARGUMENT\"")) << body;
    EXPECT_THAT(r.body, ::testing::HasSubstr(message)) << body;
  }
  // The admin socket reads JSON with the same rules.
  EXPECT_THAT(Unix(R"({"command":"status","command":"ver.list"})" "\n"),
              ::testing::HasSubstr("request: key 'command' appears twice"));
  EXPECT_THAT(Unix(R"({"command":"ver.add","args":{"ver":4294967299}})" "\n"),
              ::testing::HasSubstr("argument 'ver' must be an integer 0..4294967295"));
  EXPECT_THAT(Unix(R"({"command":"range.assign","args":{"manufacturer":"acme\u001b[2J","ver":2}})" "\n"),
              ::testing::HasSubstr("argument 'manufacturer' contains a control character"));
  EXPECT_THAT(Unix(R"({"command":"audit.show","args":{"limit":-1}})" "\n"),
              ::testing::HasSubstr("argument 'limit' must be an integer 0.."));
  EXPECT_EQ(World(imsi), before);
  EXPECT_EQ(Http("GET", "/v1/subscribers/001019876500001").status, 404);
}

// kmsd and kmsctl set umask 077 themselves: started under umask 022, every file
// and directory they create in the DB (and kmsctl's exports) is the owner's only.
class KmsdFileModeTest : public KmsdHostileTest {
 protected:
  KmsdFileModeTest() : saved_umask_(umask(022)) {}
  ~KmsdFileModeTest() override { umask(saved_umask_); }
  const mode_t saved_umask_;
};

TEST_F(KmsdFileModeTest, TheDbAndExportsAreOwnerOnlyUnderUmask022) {
  const std::string imsi = ContractChip(0);  // kmsd writes (WAL, audit) on top of what kmsctl created
  protocol::ChipProtocolState chip = MakeChip(imsi);
  ASSERT_EQ(RunCall(chip, role_).kind, Kind::kCommitted);
  ASSERT_EQ(StopKmsd(), 0);  // flushes: table files exist too
  std::vector<std::string> open_to_others;
  std::size_t checked = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(db_)) {
    struct stat st {};
    ASSERT_EQ(lstat(entry.path().c_str(), &st), 0);
    ++checked;
    if ((st.st_mode & 077) != 0) open_to_others.push_back(entry.path().filename().string());
  }
  struct stat db_dir {};
  ASSERT_EQ(stat(db_.c_str(), &db_dir), 0);
  EXPECT_EQ(db_dir.st_mode & 077, 0u) << "the DB directory";
  EXPECT_GT(checked, 5u);
  EXPECT_EQ(open_to_others, std::vector<std::string>{}) << "files readable by group or others";
  struct stat k1 {};
  ASSERT_EQ(stat((token_.dir() / "k1.json").c_str(), &k1), 0);  // written by `kmsctl ver export-k1`
  EXPECT_EQ(k1.st_mode & 077, 0u);
}

}  // namespace
}  // namespace simkms::e2e
