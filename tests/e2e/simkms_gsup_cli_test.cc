// simkms-gsup (the demo's MSC) against a real kmsd's AuC listener: its output
// formats carry every tuple field in the right place (each vector checked on a
// software chip under the chip's own Ki_1), several IMSIs share one
// connection, an unknown IMSI is exit 3 with its cause, and --auts/--rand
// resynchronise. The GSUP path itself is tested in kmsd_gsup_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "softcrypto/milenage.h"
#include "softcrypto/software_aes.h"
#include "tests/e2e/kmsd_fixture.h"
#include "tests/support/paths.h"
#include "tests/support/status_testing.h"

namespace simkms::e2e {
namespace {

constexpr char kOtherImsi[] = "001019876500001";  // in the range, never contracted

// key=value words of one output line.
std::map<std::string, std::string> Words(const std::string& line) {
  std::map<std::string, std::string> words;
  std::istringstream in(line);
  std::string word;
  while (in >> word) {
    const std::size_t eq = word.find('=');
    if (eq != std::string::npos) words[word.substr(0, eq)] = word.substr(eq + 1);
  }
  return words;
}

class SimkmsGsupCliTest : public KmsdFixture {
 protected:
  ProcessResult Gsup(std::vector<std::string> args) {
    args.insert(args.begin(), {simkms::testing::BinaryDir() + "/tools/gsup-client/simkms-gsup", "--server",
                               "127.0.0.1:" + std::to_string(gsup_port_)});
    return simkms::testing::RunProcess(args);
  }

  // The chip's Milenage under its Ki_1: the SQN in AUTN; every other field must be the chip's.
  uint64_t CheckOnChip(const std::map<std::string, std::string>& v) {
    const protocol::ChipProtocolState chip = MakeChip(kImsi0);
    auto k = kms::SoftwareAes128::Create(chip.base_key).value();
    kms::Block op{};
    const Bytes op_bytes = FromHex(kOpHex).value();  // the VER's OP, as the AC has it
    std::copy(op_bytes.begin(), op_bytes.end(), op.begin());
    const kms::Block opc = kms::ComputeOpc(*k, op).value();
    std::array<uint8_t, 16> rand{}, autn{};
    const Bytes r = FromHex(v.at("rand")).value(), a = FromHex(v.at("autn")).value();
    EXPECT_EQ(r.size(), 16u);
    EXPECT_EQ(a.size(), 16u);
    std::copy(r.begin(), r.end(), rand.begin());
    std::copy(a.begin(), a.end(), autn.begin());
    auto check = kms::CheckAutn(*k, opc, rand, autn);
    EXPECT_OK(check);
    if (!check.ok()) return 0;
    EXPECT_EQ(v.at("xres"), ToHex(check->res));
    EXPECT_EQ(v.at("ck"), ToHex(check->ck));
    EXPECT_EQ(v.at("ik"), ToHex(check->ik));
    EXPECT_EQ(v.at("sres"), ToHex(kms::ConvertResToSres(check->res)));
    EXPECT_EQ(v.at("kc"), ToHex(kms::ConvertToKc(check->ck, check->ik)));
    return kms::SqnToUint64(check->sqn);
  }

  void Contract() {
    ASSERT_EQ(Http("POST", "/v1/contracts", R"({"order_id":"cli-1","iccid":")" + std::string(kIccid0) + R"("})")
                  .status,
              201);
  }
};

TEST_F(SimkmsGsupCliTest, TextOutputIsOneLinePerVectorWithEveryFieldInItsPlace) {
  Contract();
  ProcessResult r = Gsup({"--imsi", kImsi0});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  int n = 0;
  uint64_t last_sqn = 0;
  while (std::getline(lines, line)) {
    ++n;
    auto words = Words(line);
    EXPECT_EQ(words["imsi"], kImsi0);
    EXPECT_EQ(words["vector"], std::to_string(n));
    const uint64_t sqn = CheckOnChip(words);
    EXPECT_GT(sqn, last_sqn);  // osmo-hlr's rule: SEQ + 1 per vector
    last_sqn = sqn;
  }
  EXPECT_EQ(n, 5);  // no --count: NUM_VECTORS_REQ absent, the AuC sends 5 (as to osmo-msc)
}

TEST_F(SimkmsGsupCliTest, JsonOutputAndSeveralImsisOnOneConnection) {
  Contract();
  ProcessResult r = Gsup({"--imsi", kImsi0, "--imsi", kOtherImsi, "--count", "2", "--json"});
  EXPECT_EQ(r.exit_code, 3) << "one IMSI got an error answer: " << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  ASSERT_EQ(j["answers"].size(), 2u);
  EXPECT_EQ(j["answers"][0]["imsi"], kImsi0);
  ASSERT_EQ(j["answers"][0]["vectors"].size(), 2u);
  for (const auto& v : j["answers"][0]["vectors"]) {
    CheckOnChip(v.get<std::map<std::string, std::string>>());
  }
  EXPECT_EQ(j["answers"][1]["imsi"], kOtherImsi);
  EXPECT_EQ(j["answers"][1]["error"]["cause"], 2);
  EXPECT_EQ(j["answers"][1]["error"]["name"], "IMSI_UNKNOWN");
}

TEST_F(SimkmsGsupCliTest, AnUnknownImsiIsExit3WithItsCause) {
  ProcessResult r = Gsup({"--imsi", kOtherImsi});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, std::string("imsi=") + kOtherImsi + " error=IMSI_UNKNOWN cause=0x02\n");
}

TEST_F(SimkmsGsupCliTest, AutsAndRandResynchronise) {
  Contract();
  ProcessResult first = Gsup({"--imsi", kImsi0, "--count", "1"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto words = Words(first.out);
  const uint64_t ind = CheckOnChip(words) & 31;

  // The chip has seen SQN 32549: it answers the RAND with AUTS.
  const protocol::ChipProtocolState chip = MakeChip(kImsi0);
  auto k = kms::SoftwareAes128::Create(chip.base_key).value();
  kms::Block op{};
  const Bytes op_bytes = FromHex(kOpHex).value();  // the VER's OP, as the AC has it
  std::copy(op_bytes.begin(), op_bytes.end(), op.begin());
  const kms::Block opc = kms::ComputeOpc(*k, op).value();
  std::array<uint8_t, 16> rand{};
  const Bytes r = FromHex(words["rand"]).value();
  std::copy(r.begin(), r.end(), rand.begin());
  const kms::Auts auts = kms::BuildAuts(*k, opc, rand, kms::SqnFromUint64(32549)).value();

  ProcessResult resync = Gsup({"--imsi", kImsi0, "--count", "1", "--auts", ToHex(auts), "--rand", words["rand"]});
  ASSERT_EQ(resync.exit_code, 0) << resync.err;
  EXPECT_EQ(CheckOnChip(Words(resync.out)), ((32549u + 32) & ~uint64_t{31}) | ind);
}

}  // namespace
}  // namespace simkms::e2e
