// kmsd's AuC listener over its real socket, as the core network sees it:
// Osmocom GSUP over IPA (docs/gsup.md §8). A client built on Debian's
// libosmo-gsup-client (what osmo-msc uses) and a raw client on our codec ask
// for vectors; every vector is checked on a software chip (Milenage under the
// chip's own Ki_1, or the Ki_2 of its first call); resync by AUTS; unknown
// IMSI; hostile frames and messages, while another client keeps being served.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "sc-engine/daemon/gsup_server.h"
#include "sc-engine/gsup/check_imei.h"
#include "sc-engine/gsup/gsup.h"
#include "sc-engine/gsup/ipa.h"
#include "softcrypto/milenage.h"
#include "softcrypto/software_aes.h"
#include "tests/e2e/kmsd_fixture.h"
#include "tests/e2e/raw_gsup_client.h"
#if defined(SIMKMS_HAVE_LIBOSMO_GSUP_CLIENT)
#include "tests/e2e_gsup/libosmo_gsup_client.h"
#include "tests/support/status_testing.h"
#endif

namespace simkms::e2e {
namespace {

using ::testing::HasSubstr;

constexpr char kContract[] = R"({"order_id":"g-1","iccid":"8949001234567890128","activation_code":"271828"})";
constexpr char kUncontractedImsi[] = "001019876500001";  // in the range, never contracted (misuse 1.1)

// The chip's side of a tuple, in software under `key`: the SQN it carries if
// AUTN verifies (and RES, CK, IK, SRES, Kc must then be the chip's), else nullopt.
std::optional<uint64_t> VerifyOnChip(const SecretBytes& key, const SecretBytes& op, const gsup::AuthTuple& t) {
  auto k = kms::SoftwareAes128::Create(key).value();
  kms::Block op_block{};
  std::copy(op.reveal().begin(), op.reveal().end(), op_block.begin());
  const kms::Block opc = kms::ComputeOpc(*k, op_block).value();
  auto check = kms::CheckAutn(*k, opc, t.rand, t.autn);
  if (!check.ok()) return std::nullopt;
  EXPECT_EQ(t.res, Bytes(check->res.begin(), check->res.end()));
  EXPECT_EQ(t.ck, check->ck);
  EXPECT_EQ(t.ik, check->ik);
  EXPECT_EQ(t.sres, kms::ConvertResToSres(check->res));
  EXPECT_EQ(t.kc, kms::ConvertToKc(check->ck, check->ik));
  return kms::SqnToUint64(check->sqn);
}

class KmsdGsupTest : public KmsdFixture {
 protected:
  void Contract() { ASSERT_EQ(Http("POST", "/v1/contracts", kContract).status, 201); }

  // The SQNs of `tuples`, each verified on `chip` under `key`; one SEQ apart, one IND.
  std::vector<uint64_t> VerifyAll(const std::vector<gsup::AuthTuple>& tuples, const SecretBytes& key,
                                  const protocol::ChipProtocolState& /*chip*/) {
    std::vector<uint64_t> sqns;
    for (const gsup::AuthTuple& t : tuples) {
      auto sqn = VerifyOnChip(key, SecretBytes::Copy(FromHex(kOpHex).value()), t);
      EXPECT_TRUE(sqn.has_value()) << "AUTN does not verify on the chip";
      if (!sqn) return sqns;
      if (!sqns.empty()) {
        EXPECT_EQ(*sqn, sqns.back() + 32);
      }
      sqns.push_back(*sqn);
    }
    return sqns;
  }

  protocol::ChipOutcome FirstCall(protocol::ChipProtocolState& chip) {
    auto challenge = ChipExchange(chip.imsi, role_.Start(chip).value());
    if (!challenge) return {};
    auto confirm = role_.OnPacket(chip, *challenge);
    if (!confirm.ok()) return {};
    auto commit = ChipExchange(chip.imsi, confirm->packet);
    if (!commit) return {};
    return role_.OnPacket(chip, *commit).value();
  }

  protocol::ChipRole role_{[]() -> StatusOr<std::string> { return std::string("271828"); }};
};

#if defined(SIMKMS_HAVE_LIBOSMO_GSUP_CLIENT)
TEST_F(KmsdGsupTest, LibosmoGsupClientGetsVectorsThatVerifyUnderKi1) {
  Contract();
  const protocol::ChipProtocolState chip = MakeChip(kImsi0);
  auto client = OsmoGsupClient::Connect(gsup_port_, "E2E-MSC");
  ASSERT_TRUE(client.ok()) << client.status().ToString() << kmsd_log();

  auto one = (*client)->SendAuthInfo(kImsi0, 1);
  ASSERT_OK(one);
  EXPECT_EQ(one->message_type, 0x0a);
  EXPECT_EQ(one->imsi, kImsi0);
  ASSERT_EQ(one->tuples.size(), 1u);
  std::vector<uint64_t> first = VerifyAll(one->tuples, chip.base_key, chip);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0] >> 5, 1u);  // the subscriber's first SEQ
  const uint64_t ind = first[0] & 31;

  auto five = (*client)->SendAuthInfo(kImsi0, std::nullopt);  // as osmo-msc asks: no NUM_VECTORS_REQ
  ASSERT_OK(five);
  ASSERT_EQ(five->tuples.size(), 5u);
  std::vector<uint64_t> sqns = VerifyAll(five->tuples, chip.base_key, chip);
  ASSERT_EQ(sqns.size(), 5u);
  EXPECT_EQ(sqns[0], first[0] + 32);
  for (uint64_t sqn : sqns) EXPECT_EQ(sqn & 31, ind);  // one IND per peer name

  auto many = (*client)->SendAuthInfo(kImsi0, 7);  // more than 5 asked: 5, no error (osmo-hlr)
  ASSERT_OK(many);
  EXPECT_EQ(many->tuples.size(), 5u);

  for (const char* unknown : {kUncontractedImsi, "001010000000042"}) {
    auto refused = (*client)->SendAuthInfo(unknown, 1);
    ASSERT_OK(refused);
    EXPECT_EQ(refused->message_type, 0x09) << unknown;
    EXPECT_EQ(refused->cause, 0x02) << unknown;  // GMM cause "IMSI unknown in HLR", as osmo-hlr
    EXPECT_TRUE(refused->tuples.empty());
  }
}
#else
TEST(KmsdGsupLibosmo, NeedsLibosmoGsupClient) {
  FAIL() << "libosmo-gsup-client was not found at configure time: apt-get install libosmo-gsup-client-dev "
            "libosmocore-dev, then re-run cmake";
}
#endif

TEST_F(KmsdGsupTest, AutsResynchronisesToTheChipsSqn) {
  Contract();
  const protocol::ChipProtocolState chip = MakeChip(kImsi0);
  RawGsupClient client(ConnectLoopback(gsup_port_));
  client.Identify("E2E-RAW");
  auto first = client.Ask(gsup::MakeSendAuthInfoRequest(kImsi0, 1));
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->type, gsup::MessageType::kSendAuthInfoResult);
  ASSERT_EQ(first->tuples.size(), 1u);
  const uint64_t ind = VerifyAll(first->tuples, chip.base_key, chip).at(0) & 31;

  // The chip has seen SQN 32549 elsewhere: it rejects this AUTN with an AUTS.
  auto k = kms::SoftwareAes128::Create(chip.base_key).value();
  kms::Block op{};
  const Bytes op_bytes = FromHex(kOpHex).value();  // the VER's OP, as the AC has it
  std::copy(op_bytes.begin(), op_bytes.end(), op.begin());
  const kms::Block opc = kms::ComputeOpc(*k, op).value();
  const uint64_t sqn_ms = 32549;
  const kms::Auts auts = kms::BuildAuts(*k, opc, first->tuples[0].rand, kms::SqnFromUint64(sqn_ms)).value();

  gsup::Message resync = gsup::MakeSendAuthInfoRequest(kImsi0, 2);
  resync.auts = auts;
  resync.rand = first->tuples[0].rand;
  auto answer = client.Ask(resync);
  ASSERT_TRUE(answer.has_value());
  ASSERT_EQ(answer->type, gsup::MessageType::kSendAuthInfoResult);
  std::vector<uint64_t> sqns = VerifyAll(answer->tuples, chip.base_key, chip);
  ASSERT_EQ(sqns.size(), 2u);
  EXPECT_EQ(sqns[0], ((sqn_ms + 32) & ~uint64_t{31}) | ind);  // osmo-hlr's rule after a resync

  // An AUTS whose MAC-S does not verify changes nothing and is refused.
  gsup::Message forged = resync;
  (*forged.auts)[13] ^= 0x01;
  auto refused = client.Ask(forged);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->type, gsup::MessageType::kSendAuthInfoError);
  EXPECT_EQ(refused->cause, gsup::GmmCause::kImsiUnknown);  // osmo-hlr's cause for it
  // AUTS without the RAND it answers: network failure, as osmo-hlr answers.
  gsup::Message half = gsup::MakeSendAuthInfoRequest(kImsi0, 1);
  half.auts = auts;
  auto invalid = client.Ask(half);
  ASSERT_TRUE(invalid.has_value());
  EXPECT_EQ(invalid->cause, gsup::GmmCause::kNetworkFailure);
  // The next vector continues after the resync, not after the refused requests.
  auto next = client.Ask(gsup::MakeSendAuthInfoRequest(kImsi0, 1));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(VerifyAll(next->tuples, chip.base_key, chip).at(0), sqns[1] + 32);
}

// The SQN is synced before an answer leaves: kmsd killed right after answering
// never hands out an SQN again. The IND follows the peer's name: SOURCE_NAME
// if the request has one (answered with DESTINATION_NAME), else the IPA serial.
TEST_F(KmsdGsupTest, SqnsSurviveAKillAndFollowThePeersName) {
  Contract();
  const protocol::ChipProtocolState chip = MakeChip(kImsi0);
  std::vector<uint64_t> before;
  {
    RawGsupClient client(ConnectLoopback(gsup_port_));
    client.Identify("E2E-RAW");
    auto answer = client.Ask(gsup::MakeSendAuthInfoRequest(kImsi0));
    ASSERT_TRUE(answer.has_value());
    before = VerifyAll(answer->tuples, chip.base_key, chip);
    ASSERT_EQ(before.size(), 5u);
    EXPECT_EQ(before[0] & 31, daemon::GsupPeerInd(daemon::Config{}, "E2E-RAW"));
  }
  KillKmsd();
  StartKmsd();
  RawGsupClient client(ConnectLoopback(gsup_port_));
  client.Identify("E2E-RAW");
  gsup::Message named = gsup::MakeSendAuthInfoRequest(kImsi0, 1);
  const std::string name("MSC-7\0", 6);  // osmo-msc sends the NUL
  named.source_name = Bytes(name.begin(), name.end());
  auto answer = client.Ask(named);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->destination_name, named.source_name);
  std::vector<uint64_t> after = VerifyAll(answer->tuples, chip.base_key, chip);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0] >> 5, (before.back() >> 5) + 1);  // the next SEQ: none lost, none repeated
  EXPECT_EQ(after[0] & 31, daemon::GsupPeerInd(daemon::Config{}, "MSC-7"));
  EXPECT_NE(after[0] & 31, before[0] & 31);
}

TEST_F(KmsdGsupTest, AfterTheFirstCallVectorsAreUnderKi2) {
  Contract();
  protocol::ChipProtocolState chip = MakeChip(kImsi0);
  const SecretBytes ki1 = chip.base_key;
  const protocol::ChipOutcome done = FirstCall(chip);
  ASSERT_EQ(done.kind, protocol::ChipOutcome::Kind::kCommitted) << kmsd_log();

  RawGsupClient client(ConnectLoopback(gsup_port_));
  client.Identify("E2E-RAW");
  auto answer = client.Ask(gsup::MakeSendAuthInfoRequest(kImsi0));
  ASSERT_TRUE(answer.has_value());
  ASSERT_EQ(answer->tuples.size(), 5u);
  EXPECT_EQ(VerifyAll(answer->tuples, done.new_ki2, chip).size(), 5u);
  for (const gsup::AuthTuple& t : answer->tuples) {
    EXPECT_FALSE(VerifyOnChip(ki1, SecretBytes::Copy(FromHex(kOpHex).value()), t).has_value()) << "a Ki_1 chip (a clone) must not authenticate";
  }
}

TEST_F(KmsdGsupTest, HostileInputIsRefusedAndOthersAreStillServed) {
  Contract();
  const protocol::ChipProtocolState chip = MakeChip(kImsi0);
  RawGsupClient good(ConnectLoopback(gsup_port_));
  good.Identify("E2E-GOOD");
  auto served = [&] {
    auto a = good.Ask(gsup::MakeSendAuthInfoRequest(kImsi0, 1));
    return a && a->type == gsup::MessageType::kSendAuthInfoResult && VerifyAll(a->tuples, chip.base_key, chip).size() == 1;
  };
  ASSERT_TRUE(served());

  // PING -> PONG, identified or not.
  good.Send(gsup::EncodePing());
  auto pong = good.ReadFrame();
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(gsup::EncodeIpaFrame(pong->stream, pong->payload).value(), gsup::EncodePong());

  {  // GSUP before the ID_RESP: no answer (and no SQN spent); identified, the same request is served.
    RawGsupClient early(ConnectLoopback(gsup_port_));
    ASSERT_TRUE(early.ReadFrame().has_value());  // ID_GET
    early.Send(gsup::EncodePing());
    auto early_pong = early.ReadFrame();
    ASSERT_TRUE(early_pong.has_value());
    EXPECT_EQ(gsup::EncodeIpaFrame(early_pong->stream, early_pong->payload).value(), gsup::EncodePong());
    early.SendGsup(gsup::Encode(gsup::MakeSendAuthInfoRequest(kImsi0, 1)).value());
    EXPECT_FALSE(early.ReadGsup(500).has_value());
    early.Send(gsup::EncodeIdResp({{gsup::IdTag::kUnit, "0/0/0"}, {gsup::IdTag::kSerNr, "E2E-EARLY"}}).value());
    auto late = early.Ask(gsup::MakeSendAuthInfoRequest(kImsi0, 1));
    ASSERT_TRUE(late.has_value());
    EXPECT_EQ(late->tuples.size(), 1u);
  }
  // Connections kmsd drops: an ID_RESP without SERNR (osmo-hlr drops it too), a
  // zero-length frame, an announced payload over libosmocore's 1200-byte frame or
  // over the decoder's bound, a frame never finished (read timeout, 3 s here).
  const std::vector<std::pair<std::string, std::string>> dropped = {
      {"no SERNR", ToHex(gsup::EncodeIdResp({{gsup::IdTag::kUnit, "0/0/0"}}).value())},
      {"zero length", "0000fe"},
      {"1280-byte frame", "0500ee05" + std::string(2 * 1279, '0')},
      {"64 KiB announced", "ffffee05"},
      {"truncated", "0020ee0508010862"},
  };
  for (const auto& [what, hex] : dropped) {
    RawGsupClient hostile(ConnectLoopback(gsup_port_));
    ASSERT_TRUE(hostile.ReadFrame().has_value());  // ID_GET
    hostile.SendHex(hex);
    EXPECT_TRUE(hostile.ClosedWithin(8000)) << what;
  }

  RawGsupClient odd(ConnectLoopback(gsup_port_));
  odd.Identify("E2E-ODD");
  const std::string imsi_ie = "0108" + ToHex(gsup::EncodeImsiTbcd(kImsi0).value());
  // Garbage IEs (a length past the end, IMSI not first, a 2-byte CN_DOMAIN): no answer, connection kept.
  // (A 2-byte NUM_VECTORS_REQ is answered, as osmo-hlr does: kmsd_vs_osmo_hlr_test.)
  for (const std::string& garbage : {"08" + imsi_ie + "52050101", "08520101" + imsi_ie, "08" + imsi_ie + "28020101"}) {
    odd.SendGsup(FromHex(garbage).value());
  }
  // An unknown IE is skipped (as libosmogsm does); the request is served, after the garbage.
  Bytes with_unknown = gsup::Encode(gsup::MakeSendAuthInfoRequest(kImsi0, 1)).value();
  const Bytes extra = FromHex("7e02abcd").value();
  with_unknown.insert(with_unknown.end(), extra.begin(), extra.end());
  odd.SendGsup(with_unknown);
  auto answer = odd.ReadGsup();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->type, gsup::MessageType::kSendAuthInfoResult);
  EXPECT_EQ(answer->tuples.size(), 1u);
  // An IMSI with a hex digit: osmo-hlr's answer, IMSI echoed, cause 0x60 (docs/gsup.md §5).
  odd.SendGsup(FromHex("080108000101000000a0f20a0101").value());
  auto invalid = odd.ReadFrame();
  ASSERT_TRUE(invalid.has_value());
  EXPECT_EQ(ToHex(invalid->payload), "05090108000101000000a0f20201600a0101");
  // UPDATE_LOCATION_REQUEST (the HLR role, docs/gsup.md §10): INSERT_DATA_REQUEST
  // (its bytes are compared with osmo-hlr's in kmsd_vs_osmo_hlr_test), then the result.
  gsup::Message ul = gsup::MakeSendAuthInfoRequest(kImsi0);
  ul.type = gsup::MessageType::kUpdateLocationRequest;
  ul.num_vectors_req.reset();
  odd.SendGsup(gsup::Encode(ul).value());
  auto insert_data = odd.ReadFrame();
  ASSERT_TRUE(insert_data.has_value());
  ASSERT_GE(insert_data->payload.size(), 2u);
  EXPECT_EQ(insert_data->payload[1], 0x10);  // after the GSUP extension byte
  gsup::Message inserted = ul;
  inserted.type = gsup::MessageType::kInsertDataResult;
  inserted.cn_domain.reset();
  auto ul_answer = odd.Ask(inserted);
  ASSERT_TRUE(ul_answer.has_value());
  EXPECT_EQ(static_cast<uint8_t>(ul_answer->type), 0x06);  // UPDATE_LOCATION_RESULT
  EXPECT_FALSE(ul_answer->cause.has_value());
  // CHECK_IMEI_REQUEST as osmo-msc sends it (docs/gsup.md §10.4; its bytes are
  // compared with osmo-hlr's in kmsd_vs_osmo_hlr_test): accepted, IMEI_RESULT ACK.
  gsup::Message check_imei = ul;
  check_imei.type = gsup::MessageType::kCheckImeiRequest;
  check_imei.cn_domain.reset();
  check_imei.imei = gsup::EncodeImeiIe("35693803564380").value();
  auto imei_checked = odd.Ask(check_imei);
  ASSERT_TRUE(imei_checked.has_value());
  EXPECT_EQ(imei_checked->type, gsup::MessageType::kCheckImeiResult);
  EXPECT_EQ(imei_checked->imei_result, gsup::ImeiResult::kAck);
  EXPECT_FALSE(imei_checked->imei.has_value());  // not echoed
  // A request type still not served (MO_FORWARD_SM 0x24): its ERROR, "message type not implemented".
  gsup::Message mo_sms = ul;
  mo_sms.type = static_cast<gsup::MessageType>(0x24);
  auto unserved = odd.Ask(mo_sms);
  ASSERT_TRUE(unserved.has_value());
  EXPECT_EQ(static_cast<uint8_t>(unserved->type), 0x25);
  EXPECT_EQ(static_cast<uint8_t>(*unserved->cause), 0x61);
  // AUTH_FAIL_REPORT: audited, no answer; the next request still gets its own answer.
  gsup::Message report;
  report.type = gsup::MessageType::kAuthFailReport;
  report.imsi = kImsi0;
  odd.SendGsup(gsup::Encode(report).value());
  auto after_report = odd.Ask(gsup::MakeSendAuthInfoRequest(kUncontractedImsi, 1));
  ASSERT_TRUE(after_report.has_value());
  EXPECT_EQ(after_report->type, gsup::MessageType::kSendAuthInfoError);
  EXPECT_EQ(after_report->imsi, kUncontractedImsi);
  EXPECT_EQ(after_report->cause, gsup::GmmCause::kImsiUnknown);

  EXPECT_TRUE(served());  // the first client was served throughout
  const std::string metrics = Http("GET", "/metrics").body;
  EXPECT_THAT(metrics, HasSubstr("simkms_gsup_requests_total{outcome=\"vectors\"}"));
  EXPECT_THAT(metrics, HasSubstr("simkms_gsup_requests_total{outcome=\"undecodable\"} 3"));
  EXPECT_THAT(metrics, HasSubstr("simkms_gsup_requests_total{outcome=\"unidentified\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("simkms_gsup_requests_total{outcome=\"auth_fail_report\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("simkms_gsup_requests_total{outcome=\"check_imei_ack\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("simkms_gsup_vectors_total{request=\"sai\"}"));
  EXPECT_THAT(metrics, HasSubstr("simkms_gsup_request_seconds_count"));
  // Every answered request's SQN went through the store's group commit.
  const auto counter = [&](const std::string& key) -> long {
    const std::size_t at = metrics.find(key + " ");
    return at == std::string::npos ? -1 : std::stol(metrics.substr(at + key.size() + 1));
  };
  const long groups = counter("simkms_store_group_commit_total{what=\"groups\"}");
  const long submissions = counter("simkms_store_group_commit_total{what=\"submissions\"}");
  EXPECT_GT(groups, 0);
  EXPECT_GE(submissions, groups);
  EXPECT_THAT(metrics, HasSubstr("simkms_store_write_queue_depth "));
  EXPECT_THAT(metrics, HasSubstr("simkms_gsup_connections_closed_total{reason=\"bad_identity\"} 1"));
  ProcessResult audit =
      Kmsctl({"--admin-socket", (token_.dir() / "admin.sock").string(), "--json", "audit", "show"});
  EXPECT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_THAT(audit.out, HasSubstr("auc.auth-fail-report"));
}

// 400 mutations of valid requests (flipped, inserted, dropped bytes; IEs
// repeated; frames cut short) pipelined on one connection: answered or ignored
// in order, never a crash; a marked request at the end gets its answer after
// all of them, and the daemon stays healthy.
TEST_F(KmsdGsupTest, MutatedRequestsNeverHurtTheDaemon) {
  Contract();
  std::mt19937 rng(20261128);
  auto byte = [&] { return static_cast<uint8_t>(rng() & 0xff); };
  gsup::Message resync = gsup::MakeSendAuthInfoRequest(kImsi0, 1);
  resync.auts.emplace();
  resync.rand.emplace();
  std::vector<Bytes> bases = {gsup::Encode(gsup::MakeSendAuthInfoRequest(kImsi0, 1)).value(),
                              gsup::Encode(gsup::MakeSendAuthInfoRequest(kUncontractedImsi, 2)).value(),
                              gsup::Encode(resync).value()};
  RawGsupClient client(ConnectLoopback(gsup_port_));
  client.Identify("E2E-FUZZ");
  for (int i = 0; i < 400; ++i) {
    Bytes m = bases[rng() % bases.size()];
    switch (rng() % 5) {
      case 0: m[rng() % m.size()] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
      case 1: m.insert(m.begin() + static_cast<std::ptrdiff_t>(1 + rng() % (m.size() - 1)), byte()); break;
      case 2: m.erase(m.begin() + static_cast<std::ptrdiff_t>(1 + rng() % (m.size() - 1))); break;
      case 3: {  // the IMSI IE again
        const Bytes imsi_ie(m.begin() + 1, m.begin() + 11);
        m.insert(m.end(), imsi_ie.begin(), imsi_ie.end());
        break;
      }
      default: m[rng() % m.size()] = byte(); break;
    }
    client.SendGsup(m);
  }
  gsup::Message marked = gsup::MakeSendAuthInfoRequest(kImsi0, 1);
  const std::string mark = "FINAL";
  marked.source_name = Bytes(mark.begin(), mark.end());
  client.SendGsup(gsup::Encode(marked).value());
  bool found = false;
  while (auto frame = client.ReadFrame(10000)) {
    auto c = gsup::ClassifyFrame(*frame);
    if (!c.ok() || c->kind != gsup::Classified::Kind::kGsup) continue;
    auto answer = gsup::Decode(c->body);
    if (answer.ok() && answer->destination_name == marked.source_name) {
      EXPECT_EQ(answer->type, gsup::MessageType::kSendAuthInfoResult);
      found = true;
      break;
    }
  }
  EXPECT_TRUE(found) << kmsd_log();
  EXPECT_TRUE(kmsd_->running());
  EXPECT_EQ(Http("GET", "/healthz").status, 200);
  // The same connection was never dropped: every frame was well-formed IPA.
  EXPECT_THAT(Http("GET", "/metrics").body, ::testing::Not(HasSubstr("simkms_gsup_connections_closed_total")));
}

// Many requests for ONE subscriber in flight at once, pipelined on several
// connections (one IND each): every one is answered with vectors, no SQN is
// handed out twice, each answer's SQNs follow one another, and the durable SQN
// is the highest handed out (the next request continues right after it).
TEST_F(KmsdGsupTest, ConcurrentRequestsForOneSubscriberGetDistinctSqns) {
  Contract();
  const protocol::ChipProtocolState chip = MakeChip(kImsi0);
  constexpr int kConnections = 3;
  constexpr int kPerConnection = 40;
  std::vector<std::unique_ptr<RawGsupClient>> clients;
  for (int c = 0; c < kConnections; ++c) {
    clients.push_back(std::make_unique<RawGsupClient>(ConnectLoopback(gsup_port_)));
    clients.back()->Identify("E2E-MSC-" + std::to_string(c));
  }
  for (int i = 0; i < kPerConnection; ++i) {
    for (auto& client : clients) {
      client->SendGsup(gsup::Encode(gsup::MakeSendAuthInfoRequest(kImsi0, static_cast<uint8_t>(1 + i % 5))).value());
    }
  }
  std::set<uint64_t> seen;
  uint64_t highest = 0;
  for (int c = 0; c < kConnections; ++c) {
    const uint64_t ind = daemon::GsupPeerInd(daemon::Config{}, "E2E-MSC-" + std::to_string(c));
    for (int i = 0; i < kPerConnection; ++i) {
      auto answer = clients[c]->ReadGsup(20000);
      ASSERT_TRUE(answer.has_value()) << "connection " << c << " answer " << i << kmsd_log();
      ASSERT_EQ(answer->type, gsup::MessageType::kSendAuthInfoResult) << "connection " << c << " answer " << i;
      ASSERT_EQ(answer->tuples.size(), static_cast<std::size_t>(1 + i % 5));  // in request order
      for (uint64_t sqn : VerifyAll(answer->tuples, chip.base_key, chip)) {
        EXPECT_EQ(sqn & 31, ind);
        EXPECT_TRUE(seen.insert(sqn >> 5).second) << "SEQ " << (sqn >> 5) << " handed out twice";
        highest = std::max(highest, sqn);
      }
    }
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kConnections * (kPerConnection / 5) * 15));
  auto next = clients[0]->Ask(gsup::MakeSendAuthInfoRequest(kImsi0, 1));
  ASSERT_TRUE(next.has_value());
  ASSERT_EQ(next->type, gsup::MessageType::kSendAuthInfoResult);
  EXPECT_EQ(VerifyAll(next->tuples, chip.base_key, chip).at(0) >> 5, (highest >> 5) + 1);
}

// Requests for several subscribers (and an unknown IMSI) pipelined on one
// connection: the answers come back in request order, each for its IMSI and
// under its own chip's key, whichever worker finished first.
TEST_F(KmsdGsupTest, PipelinedAnswersKeepRequestOrderAcrossSubscribers) {
  std::vector<std::string> imsis;
  std::vector<protocol::ChipProtocolState> chips;
  for (int n = 0; n < 3; ++n) {
    imsis.push_back(ContractChip(n));
    chips.push_back(MakeChip(imsis.back()));
  }
  imsis.push_back("001010000000042");  // outside every range
  RawGsupClient client(ConnectLoopback(gsup_port_));
  client.Identify("E2E-ORDER");
  std::mt19937 rng(5);
  std::vector<std::size_t> asked;
  for (int i = 0; i < 90; ++i) {
    asked.push_back(rng() % imsis.size());
    const auto vectors = static_cast<uint8_t>(1 + rng() % 5);
    client.SendGsup(gsup::Encode(gsup::MakeSendAuthInfoRequest(imsis[asked.back()], vectors)).value());
  }
  for (std::size_t i = 0; i < asked.size(); ++i) {
    auto answer = client.ReadGsup(20000);
    ASSERT_TRUE(answer.has_value()) << "answer " << i << kmsd_log();
    ASSERT_EQ(answer->imsi, imsis[asked[i]]) << "answer " << i << " out of order";
    if (asked[i] == chips.size()) {
      EXPECT_EQ(answer->type, gsup::MessageType::kSendAuthInfoError);
      EXPECT_EQ(answer->cause, gsup::GmmCause::kImsiUnknown);
      continue;
    }
    ASSERT_EQ(answer->type, gsup::MessageType::kSendAuthInfoResult);
    EXPECT_EQ(VerifyAll(answer->tuples, chips[asked[i]].base_key, chips[asked[i]]).size(), answer->tuples.size());
  }
}

// The AuC serves only the peers the operator listed (gsup.peers: source prefix
// and IPA names), refuses the others at identification, audits each refused
// (address, name) once per interval, answers a request addressed to another
// HLR with ROUTING_ERROR, and holds identification and each frame to absolute
// deadlines however slowly the bytes come.
class KmsdGsupPeersTest : public KmsdGsupTest {
 protected:
  KmsdGsupPeersTest() {
    gsup_config_ = R"({"peers": [{"address": "127.0.0.1/32", "names": ["E2E-MSC", "E2E-SGSN-*"]},
                                 {"address": "127.0.0.2", "names": ["E2E-FAR"]}],
                       "ipa_name": "KMS-AUC", "identify_timeout_ms": 2000, "frame_timeout_ms": 2000,
                       "refusal_audit_interval_s": 3600})";
  }

  // A TCP connection to kmsd's AuC from the loopback address `source`.
  int ConnectFrom(const char* source) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, source, &local.sin_addr);
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(gsup_port_);
    inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
        connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }

  long Metric(const std::string& key) {
    const std::string metrics = Http("GET", "/metrics").body;
    const std::size_t at = metrics.find(key + " ");
    return at == std::string::npos ? 0 : std::stol(metrics.substr(at + key.size() + 1));
  }

  // Audit records of `event` (online `kmsctl audit show`).
  long AuditEvents(const std::string& event) {
    ProcessResult audit = Kmsctl({"--admin-socket", (token_.dir() / "admin.sock").string(), "--json", "audit", "show"});
    EXPECT_EQ(audit.exit_code, 0) << audit.err;
    long n = 0;
    for (std::size_t at = audit.out.find(event); at != std::string::npos; at = audit.out.find(event, at + 1)) ++n;
    return n;
  }

  // The SEQ of the next vector a listed peer gets: 1 if nothing was spent before.
  uint64_t NextSeq(const protocol::ChipProtocolState& chip) {
    RawGsupClient msc(ConnectLoopback(gsup_port_));
    msc.Identify("E2E-MSC");
    auto answer = msc.Ask(gsup::MakeSendAuthInfoRequest(kImsi0, 1));
    EXPECT_TRUE(answer.has_value());
    if (!answer || answer->type != gsup::MessageType::kSendAuthInfoResult) return 0;
    std::vector<uint64_t> sqns = VerifyAll(answer->tuples, chip.base_key, chip);
    return sqns.empty() ? 0 : sqns[0] >> 5;
  }
};

TEST_F(KmsdGsupPeersTest, AnUnlistedNameIsRefusedAtIdentificationAndAuditedOncePerInterval) {
  Contract();
  const protocol::ChipProtocolState chip = MakeChip(kImsi0);
  for (int i = 0; i < 3; ++i) {
    RawGsupClient rogue(ConnectLoopback(gsup_port_));
    rogue.Identify("E2E-ROGUE");
    rogue.SendGsup(gsup::Encode(gsup::MakeSendAuthInfoRequest(kImsi0)).value());
    EXPECT_FALSE(rogue.ReadGsup(1000).has_value()) << "an unlisted peer got an answer";
    EXPECT_TRUE(rogue.ClosedWithin(1000));
  }
  {
    RawGsupClient other(ConnectLoopback(gsup_port_));
    other.Identify("E2E-SGSNX");  // not E2E-SGSN-*: refused too
    EXPECT_TRUE(other.ClosedWithin(2000));
  }
  EXPECT_EQ(Metric("simkms_gsup_peers_refused_total{stage=\"identity\"}"), 4);
  EXPECT_EQ(Metric("simkms_gsup_connections_closed_total{reason=\"peer_refused\"}"), 4);
  // One record per (address, name) per interval: E2E-ROGUE once, E2E-SGSNX once.
  for (int i = 0; i < 50 && AuditEvents("auc.peer-refused") < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(AuditEvents("auc.peer-refused"), 2);
  ProcessResult audit = Kmsctl({"--admin-socket", (token_.dir() / "admin.sock").string(), "--json", "audit", "show"});
  EXPECT_THAT(audit.out, HasSubstr("E2E-ROGUE"));
  EXPECT_THAT(audit.out, HasSubstr("not in gsup.peers"));
  // Nothing was spent for them: a listed peer gets the subscriber's first SEQ.
  EXPECT_EQ(NextSeq(chip), 1u);

  RawGsupClient sgsn(ConnectLoopback(gsup_port_));
  sgsn.Identify("E2E-SGSN-2");  // a listed prefix pattern
  auto answer = sgsn.Ask(gsup::MakeSendAuthInfoRequest(kImsi0, 1));
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->type, gsup::MessageType::kSendAuthInfoResult);
}

TEST_F(KmsdGsupPeersTest, AnUnlistedSourceAddressGetsNothingAndAListedOneIsServed) {
  Contract();
  const protocol::ChipProtocolState chip = MakeChip(kImsi0);
  {
    // E2E-FAR is listed from 127.0.0.2 only: from 127.0.0.3 kmsd sends not even ID_GET.
    const int fd = ConnectFrom("127.0.0.3");
    ASSERT_GE(fd, 0);
    RawGsupClient stranger(fd);
    EXPECT_FALSE(stranger.ReadFrame(1000).has_value());
    EXPECT_TRUE(stranger.ClosedWithin(1000));
  }
  {
    RawGsupClient wrong_place(ConnectLoopback(gsup_port_));  // 127.0.0.1: E2E-FAR not listed here
    wrong_place.Identify("E2E-FAR");
    EXPECT_TRUE(wrong_place.ClosedWithin(2000));
  }
  EXPECT_EQ(Metric("simkms_gsup_peers_refused_total{stage=\"address\"}"), 1);
  EXPECT_EQ(Metric("simkms_gsup_peers_refused_total{stage=\"identity\"}"), 1);
  const int fd = ConnectFrom("127.0.0.2");
  ASSERT_GE(fd, 0);
  RawGsupClient far(fd);
  far.Identify("E2E-FAR");
  auto answer = far.Ask(gsup::MakeSendAuthInfoRequest(kImsi0, 1));
  ASSERT_TRUE(answer.has_value());
  ASSERT_EQ(answer->type, gsup::MessageType::kSendAuthInfoResult);
  EXPECT_EQ(VerifyAll(answer->tuples, chip.base_key, chip).at(0) >> 5, 1u);
}

#if defined(SIMKMS_HAVE_LIBOSMO_GSUP_CLIENT)
TEST_F(KmsdGsupPeersTest, LibosmoGsupClientWithAListedNameIsServed) {
  Contract();
  const protocol::ChipProtocolState chip = MakeChip(kImsi0);
  auto client = OsmoGsupClient::Connect(gsup_port_, "E2E-MSC");
  ASSERT_TRUE(client.ok()) << client.status().ToString() << kmsd_log();
  auto one = (*client)->SendAuthInfo(kImsi0, 1);
  ASSERT_OK(one);
  EXPECT_EQ(one->message_type, 0x0a);
  EXPECT_EQ(VerifyAll(one->tuples, chip.base_key, chip).size(), 1u);
}
#endif

// osmo-hlr answers a request for another HLR with ROUTING_ERROR (when it cannot
// forward it); kmsd routes nothing, so it always does, and spends no SQN.
TEST_F(KmsdGsupPeersTest, ARequestForAnotherHlrGetsRoutingErrorAndSpendsNothing) {
  Contract();
  const protocol::ChipProtocolState chip = MakeChip(kImsi0);
  RawGsupClient msc(ConnectLoopback(gsup_port_));
  msc.Identify("E2E-MSC");
  const gsup::Message elsewhere = RequestForAnotherHlr(kImsi0);
  for (int i = 0; i < 3; ++i) {
    auto answer = msc.Ask(elsewhere);
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(static_cast<uint8_t>(answer->type), 0x4e);  // OSMO_GSUP_MSGT_ROUTING_ERROR
    EXPECT_EQ(answer->imsi, kImsi0);
    EXPECT_TRUE(answer->tuples.empty());
    EXPECT_FALSE(answer->cause.has_value());
    EXPECT_EQ(answer->destination_name, elsewhere.source_name);
    EXPECT_EQ(answer->message_class, gsup::kMessageClassSubscriberManagement);
    EXPECT_EQ(answer->session_id, 7u);
    EXPECT_EQ(answer->session_state, gsup::kSessionStateEnd);
  }
  // Addressed to this AuC by its ipa_name (with osmo-msc's NUL): served, and the
  // subscriber's first SEQ: the refused requests spent nothing.
  gsup::Message here = gsup::MakeSendAuthInfoRequest(kImsi0, 1);
  const std::string us("KMS-AUC\0", 8);
  here.destination_name = Bytes(us.begin(), us.end());
  auto answer = msc.Ask(here);
  ASSERT_TRUE(answer.has_value());
  ASSERT_EQ(answer->type, gsup::MessageType::kSendAuthInfoResult);
  EXPECT_EQ(VerifyAll(answer->tuples, chip.base_key, chip).at(0) >> 5, 1u);
  EXPECT_EQ(Metric("simkms_gsup_requests_total{outcome=\"routing_error\"}"), 3);
}

// Deadlines are absolute: an identity or a request trickled a byte at a time,
// each byte well inside any per-read timeout, is cut off at the deadline.
TEST_F(KmsdGsupPeersTest, AnIdentityTrickledByteByByteIsCutOffAtTheIdentifyDeadline) {
  Contract();
  RawGsupClient slow(ConnectLoopback(gsup_port_));
  ASSERT_TRUE(slow.ReadFrame().has_value());  // ID_GET
  const Bytes id_resp = gsup::EncodeIdResp({{gsup::IdTag::kUnit, "0/0/0"}, {gsup::IdTag::kSerNr, "E2E-MSC"}}).value();
  // 300 ms a byte: the whole ID_RESP takes longer than the 2 s deadline.
  ASSERT_GT(id_resp.size() * 300, 2000u + 1000u);
  for (uint8_t byte : id_resp) {
    slow.Send(Bytes{byte});
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  slow.SendGsup(gsup::Encode(gsup::MakeSendAuthInfoRequest(kImsi0, 1)).value());
  EXPECT_FALSE(slow.ReadGsup(1000).has_value()) << "a trickled identity was accepted";
  EXPECT_EQ(Metric("simkms_gsup_connections_closed_total{reason=\"identify_timeout\"}"), 1);
  const protocol::ChipProtocolState chip = MakeChip(kImsi0);
  EXPECT_EQ(NextSeq(chip), 1u);
}

TEST_F(KmsdGsupPeersTest, ARequestTrickledByteByByteIsCutOffAtTheFrameDeadline) {
  Contract();
  const protocol::ChipProtocolState chip = MakeChip(kImsi0);
  RawGsupClient slow(ConnectLoopback(gsup_port_));
  slow.Identify("E2E-MSC");
  const Bytes frame = gsup::EncodeGsupFrame(gsup::Encode(gsup::MakeSendAuthInfoRequest(kImsi0, 1)).value()).value();
  ASSERT_GT(frame.size() * 300, 2000u + 1000u);
  for (uint8_t byte : frame) {
    slow.Send(Bytes{byte});
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  EXPECT_FALSE(slow.ReadGsup(1000).has_value()) << "a trickled request was served";
  EXPECT_EQ(Metric("simkms_gsup_connections_closed_total{reason=\"frame_timeout\"}"), 1);
  EXPECT_EQ(NextSeq(chip), 1u);
}

}  // namespace
}  // namespace simkms::e2e
