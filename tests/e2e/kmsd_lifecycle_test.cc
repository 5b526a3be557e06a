// The real kmsd over its real sockets: the VO contracts a chip by the operator
// API, the chip makes its first call through the gateway channel, the operator
// re-keys and terminates; kmsd is killed between protocol steps; hostile input.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "sc-engine/protocol/secured_packet.h"
#include "softcrypto/software_keys.h"
#include "tests/e2e/kmsd_fixture.h"
#include "tests/support/status_testing.h"

namespace simkms::e2e {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

Json Body(const HttpResult& r) { return Json::parse(r.body, nullptr, false); }

class KmsdLifecycleTest : public KmsdFixture {
 protected:
  protocol::ChipOutcome FirstCall(protocol::ChipProtocolState& chip, protocol::ChipRole& role) {
    auto challenge = ChipExchange(chip.imsi, role.Start(chip).value());
    EXPECT_TRUE(challenge.has_value()) << kmsd_log();
    if (!challenge) return {};
    auto confirm = role.OnPacket(chip, *challenge);
    EXPECT_OK(confirm);
    auto commit = ChipExchange(chip.imsi, confirm->packet);
    EXPECT_TRUE(commit.has_value());
    if (!commit) return {};
    return role.OnPacket(chip, *commit).value();
  }
  protocol::ChipRole role_{[]() -> StatusOr<std::string> { return std::string("271828"); }};
};

TEST_F(KmsdLifecycleTest, ContractFirstCallRekeyTerminateAndReuse) {
  HttpResult created =
      Http("POST", "/v1/contracts", R"({"order_id":"o-1","iccid":"8949001234567890128","activation_code":"271828"})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Body(created)["imsi"], kImsi0);
  EXPECT_EQ(Body(created)["hotline"], true);
  // The same order again: the same answer.
  EXPECT_EQ(Body(Http("POST", "/v1/contracts",
                      R"({"order_id":"o-1","iccid":"8949001234567890128","activation_code":"271828"})"))["imsi"],
            kImsi0);

  protocol::ChipProtocolState chip = MakeChip(kImsi0);
  protocol::ChipOutcome done = FirstCall(chip, role_);
  ASSERT_EQ(done.kind, protocol::ChipOutcome::Kind::kCommitted);
  Json status = Body(Http("GET", std::string("/v1/subscribers/") + kImsi0));
  EXPECT_EQ(status["state"], "PERSONALIZED");
  EXPECT_EQ(status["hotline"], false);
  EXPECT_EQ(status["ki2_kcv"], ToHex(kms::SoftwareAesKcv(done.new_ki2).value()));

  ASSERT_EQ(Http("POST", std::string("/v1/subscribers/") + kImsi0 + "/rekey").status, 200);
  EXPECT_EQ(Body(Http("GET", std::string("/v1/subscribers/") + kImsi0))["state"], "REKEY_PENDING");
  protocol::ChipOutcome rekeyed = FirstCall(chip, role_);
  ASSERT_EQ(rekeyed.kind, protocol::ChipOutcome::Kind::kCommitted);
  EXPECT_TRUE(rekeyed.new_puk.empty());
  EXPECT_EQ(Body(Http("GET", std::string("/v1/subscribers/") + kImsi0))["ki2_kcv"],
            ToHex(kms::SoftwareAesKcv(rekeyed.new_ki2).value()));

  ASSERT_EQ(Http("DELETE", std::string("/v1/subscribers/") + kImsi0).status, 204);
  EXPECT_EQ(Http("GET", std::string("/v1/subscribers/") + kImsi0).status, 404);
  // The dealer resets the chip (Ki_1 again) and it is contracted anew.
  protocol::ChipProtocolState reset = MakeChip(kImsi0);
  reset.counter_out = chip.counter_out;
  reset.counter_in = chip.counter_in;
  ASSERT_EQ(Http("POST", "/v1/contracts", R"({"order_id":"o-2","iccid":"8949001234567890128"})").status, 201);
  ASSERT_EQ(FirstCall(reset, role_).kind, protocol::ChipOutcome::Kind::kCommitted);

  const int rc = StopKmsd();
  EXPECT_EQ(rc, 0) << kmsd_log();
  ProcessResult verify = Kmsctl({"--json", "audit", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// The MSISDN comes with the contract (docs/api.md): checked (E.164, 1..15
// digits) before anything is stored, shown with the subscriber, null without.
TEST_F(KmsdLifecycleTest, ContractCarriesItsMsisdn) {
  for (const char* bad : {R"("+4917012345678")", R"("1234567890123456")", R"("")", R"("49 170")", "4917"}) {
    SCOPED_TRACE(bad);
    HttpResult refused = Http("POST", "/v1/contracts",
                              std::string(R"({"order_id":"o-1","iccid":"8949001234567890128","msisdn":)") + bad + "}");
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_THAT(refused.body, ::testing::AnyOf(HasSubstr("MSISDN must be 1..15 digits"),
                                               HasSubstr("field 'msisdn' must be a string")));
  }
  EXPECT_EQ(Http("GET", std::string("/v1/subscribers/") + kImsi0).status, 404);  // nothing stored

  HttpResult created =
      Http("POST", "/v1/contracts", R"({"order_id":"o-1","iccid":"8949001234567890128","msisdn":"4917012345678"})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Body(created)["msisdn"], "4917012345678");
  EXPECT_EQ(Body(Http("GET", std::string("/v1/subscribers/") + kImsi0))["msisdn"], "4917012345678");
  // The same order with another number is another order.
  EXPECT_EQ(Http("POST", "/v1/contracts",
                 R"({"order_id":"o-1","iccid":"8949001234567890128","msisdn":"4917000000000"})").status,
            409);

  ASSERT_EQ(Http("DELETE", std::string("/v1/subscribers/") + kImsi0).status, 204);
  HttpResult without = Http("POST", "/v1/contracts", R"({"order_id":"o-2","iccid":"8949001234567890128"})");
  ASSERT_EQ(without.status, 201) << without.body;
  EXPECT_TRUE(Body(without)["msisdn"].is_null());
}

TEST_F(KmsdLifecycleTest, KilledBetweenProtocolStepsNeverSplitsTheKeys) {
  ASSERT_EQ(Http("POST", "/v1/contracts", R"({"order_id":"o-1","iccid":"8949001234567890128"})").status, 201);
  protocol::ChipProtocolState chip = MakeChip(kImsi0);
  // Killed after CHALLENGE: the CONFIRM meets no session after the restart.
  auto challenge = ChipExchange(kImsi0, role_.Start(chip).value());
  ASSERT_TRUE(challenge.has_value());
  auto confirm = role_.OnPacket(chip, *challenge).value();
  KillKmsd();
  StartKmsd();
  auto unknown = ChipExchange(kImsi0, confirm.packet);
  ASSERT_TRUE(unknown.has_value());
  EXPECT_EQ(role_.OnPacket(chip, *unknown)->kind, protocol::ChipOutcome::Kind::kRejected);
  // Killed after committing, before the COMMIT reaches the chip.
  challenge = ChipExchange(kImsi0, role_.Start(chip).value());
  confirm = role_.OnPacket(chip, *challenge).value();
  auto lost_commit = ChipExchange(kImsi0, confirm.packet);
  ASSERT_TRUE(lost_commit.has_value());
  KillKmsd();
  StartKmsd();
  auto resent = ChipExchange(kImsi0, role_.Start(chip).value());
  ASSERT_TRUE(resent.has_value());
  protocol::ChipOutcome done = role_.OnPacket(chip, *resent).value();
  ASSERT_EQ(done.kind, protocol::ChipOutcome::Kind::kCommitted);
  EXPECT_EQ(Body(Http("GET", std::string("/v1/subscribers/") + kImsi0))["ki2_kcv"],
            ToHex(kms::SoftwareAesKcv(done.new_ki2).value()));
  EXPECT_EQ(StopKmsd(), 0);
  EXPECT_EQ(Kmsctl({"audit", "verify"}).exit_code, 0);
}

TEST_F(KmsdLifecycleTest, HostileInputIsRefusedAndTheDaemonKeepsServing) {
  ASSERT_EQ(Http("POST", "/v1/contracts", R"({"order_id":"o-1","iccid":"8949001234567890128"})").status, 201);
  // Operator API.
  EXPECT_EQ(Http("POST", "/v1/contracts", "{not json").status, 400);
  EXPECT_EQ(Http("POST", "/v1/contracts", R"({"order_id":"o-2","iccid":"8949001234567890128","evil":1})").status, 400);
  EXPECT_EQ(Http("POST", "/v1/contracts", R"({"order_id":"o-3","iccid":"1234"})").status, 400);
  EXPECT_EQ(Http("GET", "/v1/subscribers/12345").status, 400);
  EXPECT_EQ(Http("GET", "/v1/nothing").status, 404);
  EXPECT_EQ(Http("GET", std::string("/v1/subscribers/") + kImsi0 + "/puk").status, 403);  // operator may not
  EXPECT_EQ(Http("POST", "/v1/contracts", std::string(70000, 'x')).status, 413);
  // Chip channel: oversized and truncated frames, wrong MACs, unknown IMSIs.
  EXPECT_EQ(RawGateway(std::string("\x00\x10\x00\x00\x01", 5)), "");  // oversized length: closed
  EXPECT_EQ(RawGateway(std::string("\x00\x00\x00\x20\x01\x26", 6)), "");  // truncated: timeout, closed
  protocol::ChipProtocolState chip = MakeChip(kImsi0);
  Bytes hello = role_.Start(chip).value();
  Bytes tampered = hello;
  tampered.back() ^= 1;
  EXPECT_FALSE(ChipExchange(kImsi0, tampered, 1000).has_value());
  EXPECT_FALSE(ChipExchange("001019876500999", hello, 1000).has_value());  // misuse 1.1
  protocol::ChipProtocolState stranger = MakeChip("001019876500007");
  EXPECT_FALSE(ChipExchange("001019876500007", role_.Start(stranger).value(), 1000).has_value());
  // ... and it still serves the genuine chip.
  auto challenge = ChipExchange(kImsi0, hello);
  ASSERT_TRUE(challenge.has_value()) << kmsd_log();
  EXPECT_EQ(Http("GET", "/healthz").status, 200);
  EXPECT_THAT(Http("GET", "/metrics").body, HasSubstr("simkms_chip_packets_total"));
}

}  // namespace
}  // namespace simkms::e2e

namespace simkms::e2e {
namespace {

TEST_F(KmsdLifecycleTest, KmsctlWorksOnlineThroughTheAdminSocket) {
  const std::string sock = (token_.dir() / "admin.sock").string();
  // Offline kmsctl cannot open the database kmsd holds; online it can.
  EXPECT_EQ(Kmsctl({"ver", "add", "--ver", "5"}).exit_code, 1);
  // kmsd holds no MK: kmsctl moves K1 from the ceremony token, kmsd records the VER.
  ProcessResult added = Kmsctl({"--admin-socket", sock, "ver", "add", "--ver", "5", "--profile", "legacy"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  ProcessResult listed = Kmsctl({"--admin-socket", sock, "--json", "ver", "list"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, ::testing::HasSubstr("\"legacy\""));
  // A ver.add sent to kmsd without K1 moved first is refused and changes nothing.
  const long audit = AuditRecords();
  ProcessResult raw = simkms::testing::RunProcess(
      {"/usr/bin/python3", "-c",
       "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
       "s.sendall(b'{\"command\":\"ver.add\",\"args\":{\"ver\":6,\"k1_kcv\":\"aabbcc\"}}\\n'); "
       "print(s.recv(4096).decode())",
       sock});
  EXPECT_THAT(raw.out, ::testing::HasSubstr("its K1 is not on the runtime token"));
  EXPECT_EQ(AuditRecords(), audit);
  ASSERT_EQ(Kmsctl({"--admin-socket", sock, "range", "assign", "--manufacturer", "beta", "--ver", "5",
                    "--iccid-first", "8949001234567900125", "--imsi-first", "001019876600000", "--count", "10"})
                .exit_code,
            0);
  ProcessResult overlap = Kmsctl({"--admin-socket", sock, "range", "assign", "--manufacturer", "beta", "--ver", "5",
                                  "--iccid-first", "8949001234567900125", "--imsi-first", "001019876700000",
                                  "--count", "10"});
  EXPECT_EQ(overlap.exit_code, 1);
  EXPECT_THAT(overlap.err, ::testing::HasSubstr("overlaps"));
  EXPECT_EQ(Kmsctl({"--admin-socket", sock, "audit", "verify"}).exit_code, 0);
  ProcessResult status = Kmsctl({"--admin-socket", sock, "status"});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_THAT(status.out, ::testing::HasSubstr("kcv.storage_kek"));
  EXPECT_THAT(status.out, ::testing::Not(::testing::HasSubstr("kcv.mk")));  // MK is not kmsd's
  EXPECT_EQ(Kmsctl({"--admin-socket", sock, "init", "--backup-out", "/tmp/x"}).exit_code, 2);  // offline only
}

}  // namespace
}  // namespace simkms::e2e
