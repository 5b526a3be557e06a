// kmsd's AuC against the reference: the same GSUP requests sent to the real kmsd and
// to a real osmo-hlr 1.5 (Debian), which holds the same subscriber (K = the chip's
// Ki_1, the same OPc). Answers without random content (errors, ROUTING_ERROR) must be
// equal byte for byte; results must agree in everything but the vectors' random and
// SQN-dependent bytes: type, IMSI, tuple count, IEs, and each AUTN's AMF (the
// E-UTRAN separation bit). docs/gsup.md §3.2 and §8. The HLR role (§10): location
// updating (INSERT_DATA and the result), PURGE_MS, CHECK_IMEI and their errors, byte for byte.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sc-engine/gsup/gsup.h"
#include "tests/e2e/loopback_clients.h"
#include "softcrypto/milenage.h"
#include "softcrypto/software_aes.h"
#include "tests/e2e/kmsd_fixture.h"
#include "tests/e2e/raw_gsup_client.h"
#include "tests/support/osmo_hlr.h"

namespace simkms::e2e {
namespace {

using simkms::testing::OsmoHlr;

constexpr char kContract[] = R"({"order_id":"o-1","iccid":"8949001234567890128"})";
constexpr char kUnknownImsi[] = "001019876500001";  // in kmsd's range but never contracted; not in osmo-hlr
constexpr char kIpaName[] = "HLR-KMS";
// A second subscriber, contracted with an MSISDN (chip 2 of kmsd's range).
constexpr char kMsisdnImsi[] = "001019876500002";
constexpr char kMsisdn[] = "4917012345678";
// kmsd waits this long for an INSERT_DATA answer (osmo-hlr's T-4222 is 30 s).
constexpr int kLocationUpdateTimeoutMs = 2000;

// What a result must share with osmo-hlr's: all but RAND, the keys, RES, SRES and
// the AUTN's SQN xor AK and MAC.
struct Shape {
  uint8_t type = 0;
  std::string imsi;
  int cause = -1;
  std::vector<std::string> tuples;  // per tuple: RES length and AMF
  std::size_t encoded_size = 0;
  bool operator==(const Shape&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Shape& s) {
  os << "type " << int{s.type} << " imsi " << s.imsi << " cause " << s.cause << " size " << s.encoded_size
     << " tuples [";
  for (const std::string& t : s.tuples) os << t << " ";
  return os << "]";
}

Shape ShapeOf(const Bytes& answer) {
  Shape s;
  s.encoded_size = answer.size();
  auto m = gsup::Decode(answer);
  if (!m.ok()) {
    s.imsi = "undecodable: " + m.status().ToString();
    return s;
  }
  s.type = static_cast<uint8_t>(m->type);
  s.imsi = m->imsi;
  if (m->cause) s.cause = static_cast<int>(*m->cause);
  for (const gsup::AuthTuple& t : m->tuples) {
    s.tuples.push_back("res" + std::to_string(t.res.size()) + "/amf" + ToHex(ByteView(t.autn).subspan(6, 2)));
  }
  return s;
}

class KmsdVsOsmoHlrTest : public KmsdFixture {
 protected:
  KmsdVsOsmoHlrTest() {
    gsup_config_ = std::string(R"({"peers": [{"address": "127.0.0.1/32", "names": ["*"]}], "ipa_name": ")") +
                   kIpaName + "\", \"location_update_timeout_ms\": " + std::to_string(kLocationUpdateTimeoutMs) + "}";
  }

  void SetUp() override {
    KmsdFixture::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_EQ(Http("POST", "/v1/contracts", kContract).status, 201);
    // osmo-hlr holds the chip's own keys: K = Ki_1, OPc from the VER's OP.
    const protocol::ChipProtocolState chip = MakeChip(kImsi0);
    auto k = kms::SoftwareAes128::Create(chip.base_key).value();
    kms::Block op{};
    const Bytes op_bytes = FromHex(kOpHex).value();
    std::copy(op_bytes.begin(), op_bytes.end(), op.begin());
    const kms::Block opc = kms::ComputeOpc(*k, op).value();
    hlr_ = OsmoHlr::Start(kIpaName);
    ASSERT_FALSE(HasFailure());
    ASSERT_TRUE(hlr_->AddMilenageSubscriber(kImsi0, ToHex(chip.base_key.reveal()), ToHex(opc)));
    // The same subscriber with an MSISDN on both (before any client connects:
    // osmo-hlr notifies its peers of an MSISDN change).
    const HttpResult with_msisdn = Http("POST", "/v1/contracts",
                                        std::string(R"({"order_id":"o-2","iccid":")") + IccidAfter(kIccid0, 2) +
                                            R"(","msisdn":")" + kMsisdn + "\"}");
    ASSERT_EQ(with_msisdn.status, 201) << with_msisdn.body;
    ASSERT_TRUE(hlr_->AddSubscriber(kMsisdnImsi));
    ASSERT_TRUE(hlr_->SetMsisdn(kMsisdnImsi, kMsisdn));
    kmsd_client_ = std::make_unique<RawGsupClient>(ConnectLoopback(gsup_port_));
    kmsd_client_->Identify("MSC-COMPARE");
    hlr_client_ = std::make_unique<RawGsupClient>(hlr_->ConnectGsup());
    hlr_client_->Identify("MSC-COMPARE");
  }

  // The same request to both; their answers' bytes (empty: no answer within 3 s).
  std::pair<Bytes, Bytes> AskBoth(const Bytes& request) {
    kmsd_client_->SendGsup(request);
    hlr_client_->SendGsup(request);
    return {kmsd_client_->ReadGsupBytes(3000).value_or(Bytes{}), hlr_client_->ReadGsupBytes(3000).value_or(Bytes{})};
  }

  std::unique_ptr<OsmoHlr> hlr_;
  std::unique_ptr<RawGsupClient> kmsd_client_, hlr_client_;
};

Bytes Encoded(const gsup::Message& m) { return gsup::Encode(m).value(); }

std::string ImsiIe(const std::string& imsi) { return "0108" + ToHex(gsup::EncodeImsiTbcd(imsi).value()); }

TEST_F(KmsdVsOsmoHlrTest, ErrorsAndRoutingErrorsAreByteForByteOsmoHlrs) {
  gsup::Message auts_only = gsup::MakeSendAuthInfoRequest(kImsi0, 1);
  auts_only.auts.emplace();
  auts_only.auts->fill(0x11);
  gsup::Message rand_only = gsup::MakeSendAuthInfoRequest(kImsi0, 1);
  rand_only.rand.emplace();
  rand_only.rand->fill(0x22);
  gsup::Message forged = auts_only;  // an AUTS whose MAC-S does not verify
  forged.rand = rand_only.rand;
  const gsup::Message elsewhere = RequestForAnotherHlr(kImsi0);
  gsup::Message for_us = gsup::MakeSendAuthInfoRequest(kUnknownImsi, 1);
  const std::string us = std::string(kIpaName) + '\0', source("MSC-1\0", 6);
  for_us.destination_name = Bytes(us.begin(), us.end());
  for_us.source_name = Bytes(source.begin(), source.end());
  const std::string imsi_ie = "0108" + ToHex(gsup::EncodeImsiTbcd(kImsi0).value());

  const std::vector<std::pair<std::string, Bytes>> cases = {
      {"unknown IMSI", Encoded(gsup::MakeSendAuthInfoRequest(kUnknownImsi, 1))},
      {"AUTS without RAND", Encoded(auts_only)},
      {"RAND without AUTS", Encoded(rand_only)},
      {"forged AUTS", Encoded(forged)},
      {"IMSI with a hex digit", FromHex("080108000101000000a0f20a0101").value()},
      {"5-digit IMSI", FromHex("0801030001f10a0101").value()},
      {"for another HLR", Encoded(elsewhere)},
      {"for another HLR, no SOURCE_NAME", FromHex("08" + imsi_ie + "6106" + ToHex(Bytes{'O', 'T', 'H', 'E', 'R', 0})).value()},
      {"for this HLR by name, unknown IMSI", Encoded(for_us)},
      {"for this HLR's name without its NUL", FromHex("08" + imsi_ie + "6107" + ToHex(Bytes(kIpaName, kIpaName + 7))).value()},
  };
  for (const auto& [what, request] : cases) {
    SCOPED_TRACE(what);
    const auto [ours, theirs] = AskBoth(request);
    ASSERT_FALSE(theirs.empty()) << "osmo-hlr did not answer\n" << hlr_->Log();
    EXPECT_EQ(ToHex(ours), ToHex(theirs));
  }
}

TEST_F(KmsdVsOsmoHlrTest, ResultsAgreeWithOsmoHlrsInAllButTheVectorsRandomBytes) {
  const std::string imsi_ie = "0108" + ToHex(gsup::EncodeImsiTbcd(kImsi0).value());
  const std::string unknown_ie = "0108" + ToHex(gsup::EncodeImsiTbcd(kUnknownImsi).value());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"one vector, CS (AMF separation bit clear)", "08" + imsi_ie + "520101" "280102" "0a0101"},
      {"no NUM_VECTORS_REQ: 5", "08" + imsi_ie + "0a0101"},
      {"empty NUM_VECTORS_REQ: 5", "08" + imsi_ie + "5200"},
      {"2-byte NUM_VECTORS_REQ: its first byte", "08" + imsi_ie + "52020301"},
      {"NUM_VECTORS_REQ twice: the last", "08" + imsi_ie + "520102" "520101"},
      {"7 asked: 5", "08" + imsi_ie + "520107"},
      {"the IMSI twice: the first counts", "08" + imsi_ie + unknown_ie + "520101"},
      {"PS", "08" + imsi_ie + "520102" "280101"},
      {"E-UTRAN (AMF separation bit set)", "08" + imsi_ie + "520102" "2a0103"},
  };
  for (const auto& [what, hex] : cases) {
    SCOPED_TRACE(what);
    const auto [ours, theirs] = AskBoth(FromHex(hex).value());
    ASSERT_FALSE(theirs.empty()) << "osmo-hlr did not answer\n" << hlr_->Log();
    const Shape our_shape = ShapeOf(ours), their_shape = ShapeOf(theirs);
    EXPECT_EQ(our_shape, their_shape);
    EXPECT_EQ(their_shape.type, 0x0a);  // SEND_AUTH_INFO_RESULT
  }
}

// UPDATE_LOCATION as osmo-msc (CS) and osmo-sgsn (PS) send it, and without
// CN_DOMAIN (PS): the INSERT_DATA_REQUEST (MSISDN, or the empty one; for PS the
// wildcard APN), then, once the VLR/SGSN answers INSERT_DATA_RESULT (as
// libosmo-gsup-client builds it: IMSI, MESSAGE_CLASS), UPDATE_LOCATION_RESULT;
// INSERT_DATA_ERROR gives UPDATE_LOCATION_ERROR. Byte for byte osmo-hlr's.
TEST_F(KmsdVsOsmoHlrTest, LocationUpdatingIsByteForByteOsmoHlrs) {
  const std::string source = ToHex(Bytes{'V', 'L', 'R', '-', '1', 0});
  struct Case {
    std::string what;
    std::string imsi;
    std::string ies;  // after the IMSI IE
  };
  const std::vector<Case> cases = {
      {"CS, with MSISDN", kMsisdnImsi, "280102" "0a0101"},
      {"PS, with MSISDN", kMsisdnImsi, "280101" "0a0101"},
      {"no CN_DOMAIN (PS), with MSISDN", kMsisdnImsi, "0a0101"},
      {"CS, without MSISDN", kImsi0, "280102" "0a0101"},
      {"PS, without MSISDN", kImsi0, "280101" "0a0101"},
      {"no CN_DOMAIN, no MESSAGE_CLASS", kImsi0, ""},
      {"CS via a proxy, in a session", kMsisdnImsi, "280102" "300400000007" "310101" "0a0101" "6006" + source},
  };
  for (bool insert_data_fails : {false, true}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(c.what + (insert_data_fails ? ", INSERT_DATA_ERROR" : ""));
      const auto [our_insert, their_insert] = AskBoth(FromHex("04" + ImsiIe(c.imsi) + c.ies).value());
      ASSERT_FALSE(their_insert.empty()) << "osmo-hlr did not answer\n" << hlr_->Log();
      EXPECT_EQ(their_insert[0], 0x10);  // INSERT_DATA_REQUEST
      EXPECT_EQ(ToHex(our_insert), ToHex(their_insert));
      const std::string answer = insert_data_fails ? "11" + ImsiIe(c.imsi) + "020111" "0a0101"
                                                   : "12" + ImsiIe(c.imsi) + "0a0101";
      const auto [our_result, their_result] = AskBoth(FromHex(answer).value());
      ASSERT_FALSE(their_result.empty()) << "osmo-hlr did not answer\n" << hlr_->Log();
      EXPECT_EQ(their_result[0], insert_data_fails ? 0x05 : 0x06);
      EXPECT_EQ(ToHex(our_result), ToHex(their_result));
    }
  }
}

// PURGE_MS (CS, PS, no CN_DOMAIN), before and after a location update: the IMSI
// alone. Unknown IMSIs (never contracted / not in osmo-hlr) for UPDATE_LOCATION
// and PURGE_MS: cause 0x02. An INSERT_DATA answer with no location update
// waiting: no answer from either.
TEST_F(KmsdVsOsmoHlrTest, PurgeAndUnknownSubscribersAreByteForByteOsmoHlrs) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"PURGE_MS CS, no location update before", "0c" + ImsiIe(kMsisdnImsi) + "280102" "0a0101"},
      {"UPDATE_LOCATION, unknown IMSI", "04" + ImsiIe(kUnknownImsi) + "280102" "0a0101"},
      {"UPDATE_LOCATION PS, unknown IMSI", "04" + ImsiIe(kUnknownImsi) + "280101"},
      {"PURGE_MS, unknown IMSI", "0c" + ImsiIe(kUnknownImsi) + "280102" "0a0101"},
      {"PURGE_MS PS", "0c" + ImsiIe(kImsi0) + "280101" "0a0101"},
      {"PURGE_MS, no CN_DOMAIN", "0c" + ImsiIe(kImsi0) + "0a0101"},
      {"UPDATE_LOCATION, invalid IMSI", "04" "0108000101000000a0f2" "280102" "0a0101"},
  };
  for (const auto& [what, hex] : cases) {
    SCOPED_TRACE(what);
    const auto [ours, theirs] = AskBoth(FromHex(hex).value());
    ASSERT_FALSE(theirs.empty()) << "osmo-hlr did not answer\n" << hlr_->Log();
    EXPECT_EQ(ToHex(ours), ToHex(theirs));
  }
  // After a location update (the INSERT_DATA answered), a purge of that domain.
  AskBoth(FromHex("04" + ImsiIe(kImsi0) + "280102" "0a0101").value());
  AskBoth(FromHex("12" + ImsiIe(kImsi0) + "0a0101").value());
  const auto [ours, theirs] = AskBoth(FromHex("0c" + ImsiIe(kImsi0) + "280102" "0a0101").value());
  ASSERT_FALSE(theirs.empty()) << hlr_->Log();
  EXPECT_EQ(ToHex(ours), ToHex(theirs));
  EXPECT_EQ(theirs[0], 0x0e);  // PURGE_MS_RESULT

  // Nothing waits for these: neither answers.
  for (const std::string& unexpected : {"12" + ImsiIe(kImsi0) + "0a0101", "11" + ImsiIe(kImsi0) + "020111"}) {
    SCOPED_TRACE(unexpected);
    const auto [none_ours, none_theirs] = AskBoth(FromHex(unexpected).value());
    EXPECT_TRUE(none_theirs.empty()) << ToHex(none_theirs);
    EXPECT_TRUE(none_ours.empty()) << ToHex(none_ours);
  }
}

// CHECK_IMEI (docs/gsup.md §10.4) as osmo-hlr 1.5 answers it with store-imei off
// (rx_check_imei_req): an IMEI IE that reads as 14 digits, for a subscriber it
// holds, CHECK_IMEI_RESULT with IMEI_RESULT ACK; an IMEI IE missing or not 14
// digits, and an unknown IMSI, CHECK_IMEI_ERROR 0x60. Byte for byte osmo-hlr's.
TEST_F(KmsdVsOsmoHlrTest, CheckImeiIsByteForByteOsmoHlrs) {
  const std::string imei = "5008" "0753968330653408";  // 35693803564380, as osmo-msc sends it
  const std::string source = ToHex(Bytes{'M', 'S', 'C', '-', '1', 0});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"valid IMEI", "30" + ImsiIe(kImsi0) + imei + "0a0101"},
      {"valid IMEI, subscriber with MSISDN", "30" + ImsiIe(kMsisdnImsi) + imei + "0a0101"},
      {"valid IMEI, no MESSAGE_CLASS", "30" + ImsiIe(kImsi0) + imei},
      {"valid IMEI via a proxy, in a session",
       "30" + ImsiIe(kMsisdnImsi) + imei + "300400000007" "310101" "0a0101" "6006" + source},
      {"valid IMEI, bytes after the counted ones", "30" + ImsiIe(kImsi0) + "500a" "0753968330653408" "ff00"},
      {"IMEI IE twice, the last valid", "30" + ImsiIe(kImsi0) + "500100" + imei + "0a0101"},
      {"IMEI IE twice, the last invalid", "30" + ImsiIe(kImsi0) + imei + "500100" "0a0101"},
      {"unknown IMSI", "30" + ImsiIe(kUnknownImsi) + imei + "0a0101"},
      {"unknown IMSI, invalid IMEI", "30" + ImsiIe(kUnknownImsi) + "5008" "0753968330653a08" "0a0101"},
      {"no IMEI IE", "30" + ImsiIe(kImsi0) + "0a0101"},
      {"empty IMEI IE", "30" + ImsiIe(kImsi0) + "5000" "0a0101"},
      {"IMEI with a hex digit", "30" + ImsiIe(kImsi0) + "5008" "0753968330653a08" "0a0101"},
      {"IMEI with an F filler: 13 digits", "30" + ImsiIe(kImsi0) + "5008" "07539683306534f8" "0a0101"},
      {"IMEI of 12 digits", "30" + ImsiIe(kImsi0) + "5007" "06539683306534" "0a0101"},
      {"IMEI of 15 digits (with the check digit)", "30" + ImsiIe(kImsi0) + "5009" "0853968330653408f9" "0a0101"},
      {"IMEI of 16 digits", "30" + ImsiIe(kImsi0) + "5009" "085396833065340899" "0a0101"},
      {"IMEI without its length octet", "30" + ImsiIe(kImsi0) + "5007" "53968330653408" "0a0101"},
      {"IMEI length octet past the IE's end", "30" + ImsiIe(kImsi0) + "5004" "07539683" "0a0101"},
      {"invalid IMSI", "30" "0108000101000000a0f2" + imei + "0a0101"},
  };
  for (const auto& [what, hex] : cases) {
    SCOPED_TRACE(what);
    const auto [ours, theirs] = AskBoth(FromHex(hex).value());
    ASSERT_FALSE(theirs.empty()) << "osmo-hlr did not answer\n" << hlr_->Log();
    EXPECT_EQ(ToHex(ours), ToHex(theirs));
  }
  // The valid ones are results (ACK), the others errors (0x60): the bytes say so.
  EXPECT_EQ(ToHex(AskBoth(FromHex(cases[0].second).value()).second), "32" + ImsiIe(kImsi0) + "510100" "0a0101");
  EXPECT_EQ(ToHex(AskBoth(FromHex(cases[7].second).value()).second), "31" + ImsiIe(kUnknownImsi) + "020160" "0a0101");
  EXPECT_EQ(ToHex(AskBoth(FromHex(cases[9].second).value()).second), "31" + ImsiIe(kImsi0) + "020160" "0a0101");
  // After all that, the connection is still served.
  const auto [our_purge, their_purge] = AskBoth(FromHex("0c" + ImsiIe(kImsi0) + "280102" "0a0101").value());
  EXPECT_EQ(ToHex(our_purge), ToHex(their_purge));
  EXPECT_EQ(ToHex(their_purge), "0e" + ImsiIe(kImsi0) + "0a0101");
}

// A VLR that never answers the INSERT_DATA: after gsup.location_update_timeout_ms
// kmsd answers UPDATE_LOCATION_ERROR, network failure, as osmo-hlr does when
// its T-4222 (30 s) expires (lu_fsm_timer_cb); a late INSERT_DATA_RESULT then
// gets nothing. The connection keeps being served meanwhile.
TEST_F(KmsdVsOsmoHlrTest, AnUnansweredInsertDataTimesOutAsNetworkFailure) {
  kmsd_client_->SendGsup(FromHex("04" + ImsiIe(kMsisdnImsi) + "280102" "0a0101").value());
  auto insert = kmsd_client_->ReadGsupBytes(3000);
  ASSERT_TRUE(insert.has_value());
  EXPECT_EQ((*insert)[0], 0x10);
  // Served while it waits: a SEND_AUTH_INFO.
  kmsd_client_->SendGsup(Encoded(gsup::MakeSendAuthInfoRequest(kImsi0, 1)));
  auto vectors = kmsd_client_->ReadGsup(3000);
  ASSERT_TRUE(vectors.has_value());
  EXPECT_EQ(vectors->type, gsup::MessageType::kSendAuthInfoResult);
  const auto timed_out = kmsd_client_->ReadGsupBytes(kLocationUpdateTimeoutMs + 3000);
  ASSERT_TRUE(timed_out.has_value());
  EXPECT_EQ(ToHex(*timed_out), "05" + ImsiIe(kMsisdnImsi) + "020111" "0a0101");
  kmsd_client_->SendGsup(FromHex("12" + ImsiIe(kMsisdnImsi) + "0a0101").value());
  EXPECT_FALSE(kmsd_client_->ReadGsupBytes(1000).has_value());
}

}  // namespace
}  // namespace simkms::e2e
