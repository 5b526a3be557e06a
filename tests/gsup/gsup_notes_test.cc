// The exact wire bytes observed with osmo-hlr 1.5.0 / osmo-msc (docs/gsup.md §5): our codec must produce and accept them byte for byte.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "sc-engine/gsup/gsup.h"
#include "sc-engine/gsup/ipa.h"
#include "tests/support/status_testing.h"

namespace simkms::gsup {
namespace {

using ::testing::HasSubstr;

Bytes Hex(const std::string& h) { return FromHex(h).value(); }

template <std::size_t N>
std::array<uint8_t, N> Arr(const std::string& h) {
  Bytes b = Hex(h);
  std::array<uint8_t, N> a{};
  EXPECT_EQ(b.size(), N);
  std::copy_n(b.begin(), std::min(N, b.size()), a.begin());
  return a;
}

constexpr char kImsi[] = "001010000000042";
constexpr char kImsiTbcd[] = "00010100000040f2";

// Decodes one IPA frame carrying GSUP from `wire` (which must hold exactly that frame).
Message DecodeWire(const Bytes& wire) {
  IpaDecoder d;
  auto n = d.Feed(wire);
  EXPECT_OK(n);
  EXPECT_EQ(*n, wire.size());
  auto frame = d.Pop();
  EXPECT_TRUE(frame.has_value());
  if (!frame) return {};
  auto c = ClassifyFrame(*frame);
  EXPECT_OK(c);
  EXPECT_EQ(c->kind, Classified::Kind::kGsup);
  auto m = Decode(c->body);
  EXPECT_OK(m);
  return m.ok() ? *m : Message{};
}

Bytes EncodeWire(const Message& m) {
  auto gsup = Encode(m);
  EXPECT_OK(gsup);
  auto frame = EncodeGsupFrame(*gsup);
  EXPECT_OK(frame);
  return *frame;
}

// The tuple osmo-auc-gen gives (-s 226) for the K/OPc of these observations, with
// dummy IK/CK (not part of the observation).
AuthTuple NotesTuple() {
  AuthTuple t;
  t.rand = Arr<16>("0d14dd5c21e894fd03a719d000fc8b4a");
  t.sres = Arr<4>("289e7e35");
  t.kc = Arr<8>("671b544783112de4");
  t.ik = Arr<16>("11111111111111111111111111111111");
  t.ck = Arr<16>("22222222222222222222222222222222");
  t.autn = Arr<16>("0ef3e914ba8b0000abb1f1323de43880");
  t.res = Hex("0eefee7126719044");
  return t;
}

std::string TupleHex(const AuthTuple& t) {
  return "0362" "2010" + ToHex(t.rand) + "2104" + ToHex(t.sres) + "2208" + ToHex(t.kc) + "2310" + ToHex(t.ik) +
         "2410" + ToHex(t.ck) + "2510" + ToHex(t.autn) + "2708" + ToHex(t.res);
}

TEST(GsupNotes, ImsiIsTbcdNibbleSwapped) {
  EXPECT_EQ(ToHex(EncodeImsiTbcd(kImsi).value()), kImsiTbcd);
  EXPECT_EQ(DecodeImsiTbcd(Hex(kImsiTbcd)).value(), kImsi);
  // Even digit count: no filler.
  EXPECT_EQ(ToHex(EncodeImsiTbcd("00101987654321").value()), "00019178563412");
  EXPECT_EQ(DecodeImsiTbcd(Hex("00019178563412")).value(), "00101987654321");
  // The unknown IMSI of the notes' error example.
  EXPECT_EQ(DecodeImsiTbcd(Hex("00019199999999f9")).value(), "001019999999999");
}

// "SAI request (as osmo-msc sends it: IMSI, CN domain, message class), 21 bytes on the wire"
TEST(GsupNotes, SaiRequestAsOsmoMscSendsIt) {
  const Bytes wire = Hex("0012ee05" "08" "0108" + std::string(kImsiTbcd) + "280102" "0a0101");
  ASSERT_EQ(wire.size(), 21u);
  Message m = DecodeWire(wire);
  EXPECT_EQ(m.type, MessageType::kSendAuthInfoRequest);
  EXPECT_EQ(m.imsi, kImsi);
  EXPECT_EQ(m.cn_domain, kCnDomainCs);
  EXPECT_EQ(m.message_class, kMessageClassSubscriberManagement);
  EXPECT_FALSE(m.num_vectors_req.has_value());
  EXPECT_EQ(VectorsToGenerate(m), 5u);
  EXPECT_EQ(EncodeWire(m), wire);
  EXPECT_EQ(Describe(m), "SEND_AUTH_INFO_REQUEST imsi=001010000000042 cn_domain=CS message_class=1");
}

TEST(GsupNotes, SaiRequestOneVectorPs) {
  const Bytes wire = Hex("0015ee05" "08" "0108" + std::string(kImsiTbcd) + "520101" "280101" "0a0101");
  ASSERT_EQ(wire.size(), 24u);
  Message m = DecodeWire(wire);
  EXPECT_EQ(m.num_vectors_req, 1);
  EXPECT_EQ(m.cn_domain, kCnDomainPs);
  EXPECT_EQ(VectorsToGenerate(m), 1u);
  EXPECT_EQ(EncodeWire(m), wire);
}

TEST(GsupNotes, SaiRequestWithAuts) {
  const std::string auts = "a1a2a3a4a5a6a7a8a9aaabacadae";
  const std::string rand = "0d14dd5c21e894fd03a719d000fc8b4a";
  const Bytes wire = Hex("0037ee05" "08" "0108" + std::string(kImsiTbcd) + "520102" "260e" + auts + "2010" + rand +
                         "280102" "0a0101");
  ASSERT_EQ(wire.size(), 3u + 0x37);
  Message m = DecodeWire(wire);
  ASSERT_TRUE(m.auts.has_value());
  ASSERT_TRUE(m.rand.has_value());
  EXPECT_EQ(ToHex(*m.auts), auts);
  EXPECT_EQ(ToHex(*m.rand), rand);
  EXPECT_EQ(VectorsToGenerate(m), 2u);
  EXPECT_EQ(EncodeWire(m), wire);
}

TEST(GsupNotes, OneVectorResultIs118Bytes) {
  const Bytes request = Hex("0012ee05" "08" "0108" + std::string(kImsiTbcd) + "280102" "0a0101");
  auto result = MakeResult(DecodeWire(request), {NotesTuple()});
  ASSERT_OK(result);
  const Bytes wire = EncodeWire(*result);
  EXPECT_EQ(wire.size(), 118u);
  EXPECT_EQ(ToHex(wire), "0073ee05" "0a" "0108" + std::string(kImsiTbcd) + TupleHex(NotesTuple()) + "0a0101");
  Message back = DecodeWire(wire);
  EXPECT_EQ(back, *result);
  EXPECT_EQ(Describe(back), "SEND_AUTH_INFO_RESULT imsi=001010000000042 tuples=1 message_class=1");
}

TEST(GsupNotes, FiveVectorResultIs518Bytes) {
  const Bytes request = Hex("0012ee05" "08" "0108" + std::string(kImsiTbcd) + "280102" "0a0101");
  std::vector<AuthTuple> tuples(5, NotesTuple());
  for (std::size_t i = 0; i < tuples.size(); ++i) tuples[i].rand[15] = static_cast<uint8_t>(i);
  auto result = MakeResult(DecodeWire(request), tuples);
  ASSERT_OK(result);
  const Bytes wire = EncodeWire(*result);
  EXPECT_EQ(wire.size(), 518u);
  EXPECT_EQ(ToHex(ByteView(wire).first(4)), "0203ee05");
  std::string expected = "0203ee05" "0a" "0108" + std::string(kImsiTbcd);
  for (const AuthTuple& t : tuples) expected += TupleHex(t);
  expected += "0a0101";
  EXPECT_EQ(ToHex(wire), expected);
  EXPECT_EQ(DecodeWire(wire).tuples, tuples);
}

TEST(GsupNotes, UnknownImsiError) {
  const Bytes request = Hex("0012ee05" "08" "0108" "00019199999999f9" "280102" "0a0101");
  auto error = MakeError(DecodeWire(request), GmmCause::kImsiUnknown);
  ASSERT_OK(error);
  const Bytes wire = EncodeWire(*error);
  EXPECT_EQ(ToHex(wire), "0012ee05" "09" "0108" "00019199999999f9" "020102" "0a0101");
  Message back = DecodeWire(wire);
  EXPECT_EQ(back.cause, GmmCause::kImsiUnknown);
  EXPECT_EQ(Describe(back), "SEND_AUTH_INFO_ERROR imsi=001019999999999 cause=0x02 message_class=1");
}

TEST(GsupNotes, NetworkFailureError) {
  Message req;
  req.imsi = kImsi;
  auto error = MakeError(req, GmmCause::kNetworkFailure);
  ASSERT_OK(error);
  // No MESSAGE_CLASS in the request: none in the answer.
  EXPECT_EQ(ToHex(Encode(*error).value()), "09" "0108" + std::string(kImsiTbcd) + "020111");
}

// Result/error echo IMSI and MESSAGE_CLASS, SOURCE_NAME -> DESTINATION_NAME, never CN_DOMAIN or NUM_VECTORS_REQ.
TEST(GsupNotes, ResponseRules) {
  Message req;
  req.imsi = kImsi;
  req.num_vectors_req = 7;
  req.cn_domain = kCnDomainPs;
  req.message_class = kMessageClassSubscriberManagement;
  req.source_name = Bytes{'M', 'S', 'C', '-', '1'};
  req.auts = std::array<uint8_t, 14>{};
  req.rand = std::array<uint8_t, 16>{};
  req.current_rat_type = kRatEutranSgs;
  EXPECT_EQ(VectorsToGenerate(req), 5u);  // > 5 -> 5, no error

  auto result = MakeResult(req, {NotesTuple()});
  ASSERT_OK(result);
  EXPECT_EQ(result->type, MessageType::kSendAuthInfoResult);
  EXPECT_EQ(result->imsi, kImsi);
  EXPECT_EQ(result->message_class, kMessageClassSubscriberManagement);
  EXPECT_EQ(result->destination_name, req.source_name);
  EXPECT_FALSE(result->source_name.has_value());
  EXPECT_FALSE(result->cn_domain.has_value());
  EXPECT_FALSE(result->num_vectors_req.has_value());
  EXPECT_FALSE(result->auts.has_value());
  EXPECT_FALSE(result->rand.has_value());
  EXPECT_FALSE(result->current_rat_type.has_value());
  EXPECT_FALSE(result->session_state.has_value());
  EXPECT_EQ(ToHex(Encode(*result).value()),
            "0a" "0108" + std::string(kImsiTbcd) + TupleHex(NotesTuple()) + "0a0101" "6105" "4d53432d31");

  auto error = MakeError(req, GmmCause::kImsiUnknown);
  ASSERT_OK(error);
  EXPECT_EQ(ToHex(Encode(*error).value()),
            "09" "0108" + std::string(kImsiTbcd) + "020102" "0a0101" "6105" "4d53432d31");
}

TEST(GsupNotes, VectorsToGenerate) {
  Message req;
  req.imsi = kImsi;
  EXPECT_EQ(VectorsToGenerate(req), 5u);
  for (uint8_t n : {0, 1, 2, 3, 4, 5, 6, 7, 255}) {
    req.num_vectors_req = n;
    EXPECT_EQ(VectorsToGenerate(req), (n == 0 || n > 5) ? 5u : std::size_t{n}) << int{n};
  }
}

// osmo_gsup_make_response: a request in a session gets SESSION_ID and SESSION_STATE END.
TEST(GsupNotes, SessionAnsweredWithEnd) {
  Message req;
  req.imsi = kImsi;
  req.session_id = 0x01020304;
  req.session_state = 1;  // BEGIN
  auto result = MakeResult(req, {NotesTuple()});
  ASSERT_OK(result);
  EXPECT_EQ(result->session_id, 0x01020304u);
  EXPECT_EQ(result->session_state, kSessionStateEnd);
  auto error = MakeError(req, GmmCause::kNetworkFailure);
  EXPECT_EQ(ToHex(Encode(*error).value()), "09" "0108" + std::string(kImsiTbcd) + "020111" "300401020304" "310103");
  // A session id without a state is not echoed (libosmogsm encodes neither then).
  req.session_state.reset();
  EXPECT_FALSE(MakeError(req, GmmCause::kNetworkFailure)->session_id.has_value());
  // State without id: id 0.
  req.session_id.reset();
  req.session_state = 2;
  EXPECT_EQ(MakeError(req, GmmCause::kNetworkFailure)->session_id, 0u);
}

TEST(GsupNotes, ResponsesOnlyToRequests) {
  Message res;
  res.type = MessageType::kSendAuthInfoResult;
  res.imsi = kImsi;
  auto r = MakeResult(res, {NotesTuple()});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("not a request"));
  EXPECT_FALSE(MakeError(res, GmmCause::kImsiUnknown).ok());
  Message req;
  req.imsi = kImsi;
  EXPECT_FALSE(MakeResult(req, {}).ok());
  EXPECT_FALSE(MakeResult(req, std::vector<AuthTuple>(6, NotesTuple())).ok());
  // Other request types map the same way (UL request 0x04 -> error 0x05).
  req.type = MessageType::kUpdateLocationRequest;
  EXPECT_EQ(static_cast<uint8_t>(MakeError(req, GmmCause::kImsiUnknown)->type), 0x05);
}

}  // namespace
}  // namespace simkms::gsup

namespace simkms::gsup {
namespace {

// Exchanges observed with a real osmo-hlr 1.5.0 (Debian 12, loopback) while
// writing this codec: requests whose IMSI IE is not 6..15 digits are answered
// SEND_AUTH_INFO_ERROR, cause 0x60, IMSI IE echoed; Decode() refuses them and
// InvalidImsiAnswer() gives osmo-hlr's answer.
TEST(GsupObserved, InvalidImsiAnswers) {
  struct Case {
    const char* request;
    const char* osmo_hlr_answer;
  };
  const Case cases[] = {
      {"08" "0108" "000101000000a0f2" "0a0101", "09" "0108" "000101000000a0f2" "020160" "0a0101"},  // nibble a
      {"08" "0103" "0001f1" "0a0101", "09" "0103" "0001f1" "020160" "0a0101"},                      // 5 digits
      {"08" "0108" "0001010000004012" "0a0101", "09" "0108" "0001010000004012" "020160" "0a0101"},  // 16 digits
  };
  for (const Case& c : cases) {
    const Bytes request = FromHex(c.request).value();
    EXPECT_FALSE(Decode(request).ok()) << c.request;
    auto answer = InvalidImsiAnswer(request);
    ASSERT_TRUE(answer.has_value()) << c.request;
    EXPECT_EQ(ToHex(*answer), c.osmo_hlr_answer);
  }
  // Routing and session IEs are answered as by MakeError().
  auto routed = InvalidImsiAnswer(FromHex("08" "0100" "310101" "6003414243").value());
  ASSERT_TRUE(routed.has_value());
  EXPECT_EQ(ToHex(*routed), "09" "0100" "020160" "300400000000" "310103" "6103414243");
  // Silence where osmo-hlr is silent: a valid IMSI, another defect, a non-request, an IMSI IE over 8 bytes.
  EXPECT_FALSE(InvalidImsiAnswer(FromHex("08" "0108" "00010100000040f2" "0a0101").value()).has_value());
  EXPECT_FALSE(InvalidImsiAnswer(FromHex("08" "0103" "0001f1" "2805").value()).has_value());
  EXPECT_FALSE(InvalidImsiAnswer(FromHex("0a" "0103" "0001f1").value()).has_value());
  EXPECT_FALSE(InvalidImsiAnswer(FromHex("08" "0109" "000101000000004002").value()).has_value());
  EXPECT_FALSE(InvalidImsiAnswer(FromHex("08" "280102" "0108" "00010100000040f2").value()).has_value());
  EXPECT_FALSE(InvalidImsiAnswer({}).has_value());
}

}  // namespace
}  // namespace simkms::gsup
