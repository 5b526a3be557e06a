// kmsd's AuC against the reference: the same GSUP requests sent to the real kmsd and
// to a real osmo-hlr 1.5 (Debian), which holds the same subscriber (K = the chip's
// Ki_1, the same OPc). Answers without random content (errors, ROUTING_ERROR) must be
// equal byte for byte; results must agree in everything but the vectors' random and
// SQN-dependent bytes: type, IMSI, tuple count, IEs, and each AUTN's AMF (the
// E-UTRAN separation bit). docs/gsup.md §3.2 and §8.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sc-engine/gsup/gsup.h"
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
                   kIpaName + "\"}";
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

}  // namespace
}  // namespace simkms::e2e
