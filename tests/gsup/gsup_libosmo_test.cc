// The independent check: our GSUP/IPA codec against libosmocore's own
// (libosmogsm's osmo_gsup_encode/osmo_gsup_decode and IPA CCM helpers, Debian
// libosmocore-dev 1.7.0) and osmo-hlr's osmo_gsup_make_response (Debian
// libosmo-gsup-client-dev 1.5.0). Both directions, byte for byte:
//   ours -> bytes -> osmo_gsup_decode -> same fields -> osmo_gsup_encode -> same bytes
//   osmo struct -> osmo_gsup_encode -> bytes == ours, Decode(bytes) == the message
// libosmo* is linked into this test binary only (tests/gsup/libosmo.cmake).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#if defined(SIMKMS_HAVE_LIBOSMOGSM)

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "sc-engine/gsup/check_imei.h"
#include "sc-engine/gsup/gsup.h"
#include "sc-engine/gsup/ipa.h"
#include "sc-engine/gsup/location.h"
#include "tests/support/status_testing.h"

extern "C" {
#include <osmocom/core/application.h>
#include <osmocom/core/logging.h>
#include <osmocom/core/msgb.h>
#include <osmocom/core/talloc.h>
#include <osmocom/core/utils.h>
#include <osmocom/gsm/apn.h>
#include <osmocom/gsm/gsm23003.h>
#include <osmocom/gsm/gsm48_ie.h>
#include <osmocom/gsm/gsup.h>
#include <osmocom/gsm/ipa.h>
#include <osmocom/gsm/protocol/gsm_23_003.h>
#include <osmocom/gsm/protocol/ipaccess.h>
#include <osmocom/gsm/tlv.h>
#if defined(SIMKMS_HAVE_LIBOSMO_GSUP_CLIENT)
#include <osmocom/gsupclient/gsup_req.h>
#endif
}

namespace simkms::gsup {
namespace {

Bytes Hex(const std::string& h) { return FromHex(h).value(); }

// Marsaglia's xorshift32: the same pseudo-random inputs on every run.
class XorShift32 {
 public:
  explicit XorShift32(uint32_t seed) : x_(seed) {}
  uint32_t operator()() {
    x_ ^= x_ << 13;
    x_ ^= x_ >> 17;
    x_ ^= x_ << 5;
    return x_;
  }

 private:
  uint32_t x_;
};

// libosmogsm logs every refusal; the mutation test makes thousands. Logging is
// initialised once, its stderr target limited to FATAL.
class QuietLibosmoLogging : public ::testing::Environment {
 public:
  void SetUp() override {
    static const log_info kInfo = {};
    if (osmo_init_logging2(nullptr, &kInfo) == 0 && osmo_stderr_target) {
      log_set_log_level(osmo_stderr_target, LOGL_FATAL);
    }
  }
};
const auto* const kQuiet = ::testing::AddGlobalTestEnvironment(new QuietLibosmoLogging);

// A C enum field read as its integer: libosmogsm stores any wire byte in enum
// fields, values C++ may not load as the enum type (UBSan: invalid enum load).
template <typename E>
unsigned Raw(const E& field) {
  static_assert(sizeof(E) == sizeof(unsigned));
  unsigned v = 0;
  std::memcpy(&v, &field, sizeof v);
  return v;
}

Bytes MsgbBytes(const struct msgb* msg) { return Bytes(msg->data, msg->data + msg->len); }

// osmo_gsup_encode into a msgb.
Bytes OsmoEncode(const osmo_gsup_message& g) {
  struct msgb* msg = msgb_alloc(4096, "gsup_libosmo_test");
  const int rc = osmo_gsup_encode(msg, &g);
  EXPECT_EQ(rc, 0);
  Bytes out = MsgbBytes(msg);
  msgb_free(msg);
  return out;
}

// osmo_gsup_decode keeps pointers into its input: the input lives in `storage`,
// with slack after it so that libosmogsm's unchecked reads of 1-byte IEs (it
// dereferences CN_DOMAIN, MESSAGE_CLASS... without checking their length) stay
// inside our allocation.
struct OsmoDecoded {
  Bytes storage;
  osmo_gsup_message g{};
  int rc = 0;
};
void OsmoDecode(ByteView data, OsmoDecoded& out) {
  out.storage.assign(data.begin(), data.end());
  out.storage.resize(data.size() + 64, 0);
  out.rc = osmo_gsup_decode(out.storage.data(), data.size(), &out.g);
}

AuthTuple MakeTuple(int seed, std::size_t res_len = 8) {
  AuthTuple t;
  auto fill = [seed](auto& a, int salt) {
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(seed * 37 + salt * 11 + i);
  };
  fill(t.rand, 1);
  fill(t.sres, 2);
  fill(t.kc, 3);
  fill(t.ik, 4);
  fill(t.ck, 5);
  fill(t.autn, 6);
  t.res.resize(res_len);
  fill(t.res, 7);
  return t;
}

// libosmogsm's view of a message, in our terms. libosmogsm cannot represent a
// 0 in CAUSE, CN_DOMAIN, MESSAGE_CLASS, SESSION_STATE or CURRENT_RAT_TYPE (0 =
// absent), nor SESSION_ID without a state; the messages below avoid those.
Message FromOsmo(const osmo_gsup_message& g) {
  Message m;
  m.type = static_cast<MessageType>(Raw(g.message_type));
  m.imsi = g.imsi;
  if (Raw(g.cause)) m.cause = static_cast<GmmCause>(Raw(g.cause));
  if (Raw(g.message_type) == OSMO_GSUP_MSGT_SEND_AUTH_INFO_REQUEST) {
    if (g.num_auth_vectors) m.num_vectors_req = static_cast<uint8_t>(g.num_auth_vectors);
  } else {
    for (std::size_t i = 0; i < g.num_auth_vectors; ++i) {
      const osmo_auth_vector& v = g.auth_vectors[i];
      EXPECT_EQ(v.auth_types, unsigned{OSMO_AUTH_TYPE_GSM | OSMO_AUTH_TYPE_UMTS});
      AuthTuple t;
      std::memcpy(t.rand.data(), v.rand, 16);
      std::memcpy(t.sres.data(), v.sres, 4);
      std::memcpy(t.kc.data(), v.kc, 8);
      std::memcpy(t.ik.data(), v.ik, 16);
      std::memcpy(t.ck.data(), v.ck, 16);
      std::memcpy(t.autn.data(), v.autn, 16);
      t.res.assign(v.res, v.res + v.res_len);
      m.tuples.push_back(t);
    }
  }
  if (g.auts) {
    m.auts.emplace();
    std::memcpy(m.auts->data(), g.auts, 14);
  }
  if (g.rand) {
    m.rand.emplace();
    std::memcpy(m.rand->data(), g.rand, 16);
  }
  if (Raw(g.cn_domain)) m.cn_domain = static_cast<uint8_t>(Raw(g.cn_domain));
  if (Raw(g.session_state)) {
    m.session_state = static_cast<uint8_t>(Raw(g.session_state));
    m.session_id = g.session_id;
  }
  if (g.imei_enc) m.imei = Bytes(g.imei_enc, g.imei_enc + g.imei_enc_len);
  if (Raw(g.imei_result)) m.imei_result = static_cast<ImeiResult>(Raw(g.imei_result) - 1);  // wire value + 1
  if (Raw(g.message_class)) m.message_class = static_cast<uint8_t>(Raw(g.message_class));
  if (g.source_name) m.source_name = Bytes(g.source_name, g.source_name + g.source_name_len);
  if (g.destination_name) m.destination_name = Bytes(g.destination_name, g.destination_name + g.destination_name_len);
  if (Raw(g.current_rat_type)) m.current_rat_type = static_cast<uint8_t>(Raw(g.current_rat_type));
  return m;
}

// The same message as a libosmogsm struct, built field by field (pointers into `m`).
osmo_gsup_message ToOsmo(const Message& m) {
  osmo_gsup_message g{};
  g.message_type = static_cast<osmo_gsup_message_type>(m.type);
  OSMO_STRLCPY_ARRAY(g.imsi, m.imsi.c_str());
  if (m.cause) g.cause = static_cast<gsm48_gmm_cause>(*m.cause);
  if (m.type == MessageType::kSendAuthInfoRequest) {
    g.num_auth_vectors = m.num_vectors_req.value_or(0);
  } else {
    g.num_auth_vectors = m.tuples.size();
    for (std::size_t i = 0; i < m.tuples.size(); ++i) {
      const AuthTuple& t = m.tuples[i];
      osmo_auth_vector& v = g.auth_vectors[i];
      v.auth_types = OSMO_AUTH_TYPE_GSM | OSMO_AUTH_TYPE_UMTS;
      std::memcpy(v.rand, t.rand.data(), 16);
      std::memcpy(v.sres, t.sres.data(), 4);
      std::memcpy(v.kc, t.kc.data(), 8);
      std::memcpy(v.ik, t.ik.data(), 16);
      std::memcpy(v.ck, t.ck.data(), 16);
      std::memcpy(v.autn, t.autn.data(), 16);
      std::memcpy(v.res, t.res.data(), t.res.size());
      v.res_len = static_cast<uint8_t>(t.res.size());
    }
  }
  if (m.auts) g.auts = m.auts->data();
  if (m.rand) g.rand = m.rand->data();
  if (m.cn_domain) g.cn_domain = static_cast<osmo_gsup_cn_domain>(*m.cn_domain);
  if (m.session_state) {
    g.session_state = static_cast<osmo_gsup_session_state>(*m.session_state);
    g.session_id = m.session_id.value_or(0);
  }
  if (m.imei) {
    g.imei_enc = m.imei->data();
    g.imei_enc_len = m.imei->size();
  }
  if (m.imei_result) g.imei_result = static_cast<osmo_gsup_imei_result>(static_cast<unsigned>(*m.imei_result) + 1);
  if (m.message_class) g.message_class = static_cast<osmo_gsup_message_class>(*m.message_class);
  if (m.source_name) {
    g.source_name = m.source_name->data();
    g.source_name_len = m.source_name->size();
  }
  if (m.destination_name) {
    g.destination_name = m.destination_name->data();
    g.destination_name_len = m.destination_name->size();
  }
  if (m.current_rat_type) g.current_rat_type = static_cast<osmo_rat_type>(*m.current_rat_type);
  return g;
}

const char* const kImsis[] = {"001010000000042", "00101987654321", "001010"};

std::vector<Message> Requests() {
  std::vector<Message> out;
  int i = 0;
  for (std::optional<uint8_t> n : {std::optional<uint8_t>(), std::optional<uint8_t>(1), std::optional<uint8_t>(2),
                                   std::optional<uint8_t>(3), std::optional<uint8_t>(4), std::optional<uint8_t>(5)}) {
    for (bool resync : {false, true}) {
      for (std::optional<uint8_t> cn : {std::optional<uint8_t>(), std::optional<uint8_t>(kCnDomainPs),
                                        std::optional<uint8_t>(kCnDomainCs)}) {
        for (bool with_class : {false, true}) {
          for (bool with_source : {false, true}) {
            for (bool with_session : {false, true}) {
              for (bool with_rat : {false, true}) {
                Message m;
                m.imsi = kImsis[i++ % 3];
                m.num_vectors_req = n;
                if (resync) {
                  m.auts.emplace();
                  m.rand.emplace();
                  for (std::size_t k = 0; k < 14; ++k) (*m.auts)[k] = static_cast<uint8_t>(0xa0 + k);
                  for (std::size_t k = 0; k < 16; ++k) (*m.rand)[k] = static_cast<uint8_t>(0x30 + k);
                }
                m.cn_domain = cn;
                if (with_class) m.message_class = kMessageClassSubscriberManagement;
                if (with_source) m.source_name = Bytes{'M', 'S', 'C', '-', static_cast<uint8_t>('0' + i % 10)};
                if (with_session) {
                  m.session_id = 0x10203040u + static_cast<uint32_t>(i);
                  m.session_state = 1;
                }
                if (with_rat) m.current_rat_type = kRatEutranSgs;
                out.push_back(m);
              }
            }
          }
        }
      }
    }
  }
  return out;
}

// An answer of `type` to `destination`, with MESSAGE_CLASS or without.
Message AnswerTo(MessageType type, const char* imsi, bool with_class, Bytes destination) {
  Message m;
  m.type = type;
  m.imsi = imsi;
  if (with_class) m.message_class = kMessageClassSubscriberManagement;
  m.destination_name = std::move(destination);
  return m;
}

std::vector<Message> Results() {
  std::vector<Message> out;
  int i = 0;
  for (std::size_t n = 1; n <= kMaxTuples; ++n) {
    for (std::size_t res_len : {8, 4, 16}) {
      for (bool with_class : {false, true}) {
        for (bool with_dest : {false, true}) {
          for (bool with_session : {false, true}) {
            Message m;
            m.type = MessageType::kSendAuthInfoResult;
            m.imsi = kImsis[i++ % 3];
            for (std::size_t k = 0; k < n; ++k) m.tuples.push_back(MakeTuple(i * 5 + static_cast<int>(k), res_len));
            if (with_class) m.message_class = kMessageClassSubscriberManagement;
            if (with_dest) m.destination_name = Bytes{'S', 'G', 'S', 'N'};
            if (with_session) {
              m.session_id = 7;
              m.session_state = kSessionStateEnd;
            }
            out.push_back(m);
          }
        }
      }
    }
  }
  for (GmmCause cause : {GmmCause::kImsiUnknown, GmmCause::kNetworkFailure, GmmCause::kInvalidMandatoryInfo}) {
    for (bool with_class : {false, true}) {
      Message m = AnswerTo(MessageType::kSendAuthInfoError, kImsis[i++ % 3], with_class, Bytes{'M', 'S', 'C'});
      m.cause = cause;
      out.push_back(m);
    }
  }
  return out;
}

// CHECK_IMEI requests (a valid IMEI IE and unreadable ones), results (ACK,
// NACK) and errors, with and without the IEs every answer may carry. (No empty
// IMEI IE: libosmogsm's struct cannot hold one apart from an absent IE.)
std::vector<Message> CheckImeiMessages() {
  std::vector<Message> out;
  int i = 0;
  for (const char* imei : {"0753968330653408", "0753968330653a08", "0853968330653408f9", "00", "53968330653408ffff"}) {
    for (bool with_class : {false, true}) {
      for (bool with_session : {false, true}) {
        Message m;
        m.type = MessageType::kCheckImeiRequest;
        m.imsi = kImsis[i++ % 3];
        m.imei = Hex(imei);
        if (with_class) m.message_class = kMessageClassSubscriberManagement;
        if (with_session) {
          m.session_id = 0x0a0b0c0du;
          m.session_state = 1;
          m.source_name = Bytes{'M', 'S', 'C', 0};
        }
        out.push_back(m);
      }
    }
  }
  for (ImeiResult result : {ImeiResult::kAck, ImeiResult::kNack}) {
    for (bool with_class : {false, true}) {
      Message m = AnswerTo(MessageType::kCheckImeiResult, kImsis[i++ % 3], with_class, Bytes{'M', 'S', 'C', 0});
      m.imei_result = result;
      out.push_back(m);
    }
  }
  Message error = AnswerTo(MessageType::kCheckImeiError, kImsis[0], false, Bytes{'M', 'S', 'C', 0});
  error.cause = GmmCause::kInvalidMandatoryInfo;
  out.push_back(error);
  return out;
}

void CheckBothWays(const Message& m) {
  SCOPED_TRACE(Describe(m));
  auto ours = Encode(m);
  ASSERT_OK(ours);

  // ours -> libosmogsm decode -> same fields -> libosmogsm encode -> same bytes.
  OsmoDecoded decoded;
  OsmoDecode(*ours, decoded);
  ASSERT_EQ(decoded.rc, 0) << ToHex(*ours);
  EXPECT_EQ(FromOsmo(decoded.g), m);
  EXPECT_EQ(ToHex(OsmoEncode(decoded.g)), ToHex(*ours));

  // libosmogsm encode of the same content -> the same bytes -> our decode gives the message back.
  const Bytes theirs = OsmoEncode(ToOsmo(m));
  EXPECT_EQ(ToHex(theirs), ToHex(*ours));
  auto back = Decode(theirs);
  ASSERT_OK(back);
  EXPECT_EQ(*back, m);
}

TEST(GsupLibosmo, RequestsBothWays) {
  const auto requests = Requests();
  ASSERT_EQ(requests.size(), 576u);
  for (const Message& m : requests) CheckBothWays(m);
}

TEST(GsupLibosmo, ResultsAndErrorsBothWays) {
  const auto results = Results();
  ASSERT_EQ(results.size(), 126u);
  for (const Message& m : results) CheckBothWays(m);
}

TEST(GsupLibosmo, CheckImeiMessagesBothWays) {
  const auto messages = CheckImeiMessages();
  ASSERT_EQ(messages.size(), 25u);
  for (const Message& m : messages) CheckBothWays(m);
}

// osmo-hlr 1.5's rx_check_imei_req reads the IMEI IE with libosmogsm:
// gsm48_decode_bcd_number2() into a buffer of GSM23003_IMEI_NUM_DIGITS_NO_CHK + 1
// chars (a failure: "failed to decode IMEI"), then osmo_imei_str_valid(imei,
// false) ("invalid IMEI"). DecodeImeiIe must accept exactly what that accepts,
// with the same digits.
bool OsmoHlrReadsImei(ByteView value, std::string& digits) {
  char imei[GSM23003_IMEI_NUM_DIGITS_NO_CHK + 1] = {0};
  if (gsm48_decode_bcd_number2(imei, sizeof imei, value.data(), value.size(), 0) < 0) return false;
  digits = imei;
  return osmo_imei_str_valid(imei, false);
}

TEST(GsupLibosmo, ImeiIeIsReadAsOsmoHlrReadsIt) {
  std::vector<Bytes> values;
  for (const char* hex : {"0753968330653408", "0753968330653408ff", "", "00", "0753", "53968330653408",
                          "0853968330653408f9", "085396833065340899", "07539683306534f8", "073f968330653408",
                          "0753968330653a08", "0753968330e53408", "06539683306534", "0700000000000000",
                          "0799999999999999", "07999999999999990102"}) {
    values.push_back(Hex(hex));
  }
  XorShift32 rnd(88172645u);
  for (int i = 0; i < 20000; ++i) {
    // Mostly a plausible length octet and decimal nibbles, so that both outcomes are common.
    Bytes v(rnd() % 12);
    for (std::size_t k = 0; k < v.size(); ++k) {
      const uint32_t r = rnd();
      v[k] = (r % 8 == 0) ? static_cast<uint8_t>(r >> 8)
                          : static_cast<uint8_t>((r >> 8) % 10 | ((r >> 16) % 10) << 4);
    }
    if (!v.empty()) {
      const uint32_t r = rnd() % 4;
      if (r < 2) v[0] = 7;  // the valid count half the time, another count near it a quarter
      else if (r == 2) v[0] = static_cast<uint8_t>(5 + rnd() % 5);
    }
    values.push_back(v);
  }
  int accepted = 0;
  for (const Bytes& v : values) {
    std::string theirs;
    const bool osmo_accepts = OsmoHlrReadsImei(v, theirs);
    auto ours = DecodeImeiIe(v);
    ASSERT_EQ(ours.ok(), osmo_accepts) << ToHex(v) << ": " << ours.status().ToString();
    if (osmo_accepts) {
      EXPECT_EQ(*ours, theirs) << ToHex(v);
      ++accepted;
    }
  }
  EXPECT_GT(accepted, 1000);
  EXPECT_LT(accepted, static_cast<int>(values.size()) - 1000);
}

// The notes' wire examples decode in libosmogsm as they do in ours.
TEST(GsupLibosmo, NotesExamples) {
  for (const char* hex : {"08" "010800010100000040f2" "280102" "0a0101",
                          "08" "010800010100000040f2" "520101" "280101" "0a0101",
                          "09" "010800019199999999f9" "020102" "0a0101"}) {
    OsmoDecoded d;
    OsmoDecode(Hex(hex), d);
    ASSERT_EQ(d.rc, 0) << hex;
    auto ours = Decode(Hex(hex));
    ASSERT_TRUE(ours.ok()) << hex;
    EXPECT_EQ(FromOsmo(d.g), *ours) << hex;
    EXPECT_EQ(ToHex(OsmoEncode(d.g)), hex);
  }
}

TEST(GsupLibosmo, BothRefuseSixTuples) {
  Message m;
  m.type = MessageType::kSendAuthInfoResult;
  m.imsi = kImsis[0];
  for (int k = 0; k < 5; ++k) m.tuples.push_back(MakeTuple(k));
  Bytes five = Encode(m).value();
  Bytes six = five;
  const Bytes one_tuple(five.begin() + 11, five.begin() + 11 + 100);
  six.insert(six.end(), one_tuple.begin(), one_tuple.end());
  OsmoDecoded d5, d6;
  OsmoDecode(five, d5);
  OsmoDecode(six, d6);
  EXPECT_EQ(d5.rc, 0);
  EXPECT_EQ(d5.g.num_auth_vectors, 5u);
  EXPECT_EQ(d6.rc, -GMM_CAUSE_INV_MAND_INFO);
  EXPECT_OK(Decode(five));
  EXPECT_FALSE(Decode(six).ok());
}

// libosmo-gsup-client frames GSUP with ipa_prepend_header_ext + ipa_prepend_header.
TEST(GsupLibosmo, GsupFraming) {
  Message m;
  m.imsi = kImsis[0];
  m.cn_domain = kCnDomainCs;
  m.message_class = 1;
  osmo_gsup_message g = ToOsmo(m);
  struct msgb* msg = msgb_alloc_headroom(4096, 64, "gsup_libosmo_test");
  ASSERT_EQ(osmo_gsup_encode(msg, &g), 0);
  ipa_prepend_header_ext(msg, IPAC_PROTO_EXT_GSUP);
  ipa_prepend_header(msg, IPAC_PROTO_OSMO);
  const Bytes theirs = MsgbBytes(msg);
  msgb_free(msg);
  EXPECT_EQ(ToHex(theirs), "0012ee05" "08" "010800010100000040f2" "280102" "0a0101");
  EXPECT_EQ(EncodeGsupFrame(Encode(m).value()).value(), theirs);
}

// What libosmocore writes on a socket for ID_GET (osmo-hlr's first bytes) and PONG.
TEST(GsupLibosmo, CcmFramesOnTheWire) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  auto read_all = [&](std::size_t n) {
    Bytes b(n);
    std::size_t got = 0;
    while (got < n) {
      const ssize_t r = read(sv[1], b.data() + got, n - got);
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
    }
    b.resize(got);
    return b;
  };
  ASSERT_GT(ipa_ccm_send_id_req(sv[0]), 0);
  EXPECT_EQ(ToHex(read_all(20)), ToHex(EncodeIdGet()));
  ASSERT_GT(ipa_ccm_send_pong(sv[0]), 0);
  EXPECT_EQ(ToHex(read_all(4)), ToHex(EncodePong()));
  ASSERT_GT(ipa_ccm_send_id_ack(sv[0]), 0);
  EXPECT_EQ(ToHex(read_all(4)), ToHex(EncodeIdAck()));
  close(sv[0]);
  close(sv[1]);
}

// A client's answer to our ID_GET, built by libosmocore (as libosmo-gsup-client
// does), parsed by ours; ours parsed by libosmocore.
TEST(GsupLibosmo, IdRespBothWays) {
  const Bytes id_get = EncodeIdGet();
  const ByteView get_body = ByteView(id_get).subspan(4);  // after | len | fe | 04 |
  tlv_parsed get_parsed;
  ASSERT_EQ(ipa_ccm_id_get_parse(&get_parsed, get_body.data(), static_cast<unsigned>(get_body.size())), 0);
  for (uint8_t tag : {0x08, 0x07, 0x02, 0x03, 0x04, 0x05, 0x01, 0x00}) {
    EXPECT_TRUE(TLVP_PRESENT(&get_parsed, tag)) << int{tag};
  }

  for (const char* serno : {"PROBE-MSC", "", static_cast<const char*>(nullptr)}) {
    ipaccess_unit dev{};
    dev.site_id = 0;
    dev.bts_id = 0;
    dev.trx_id = 0;
    dev.unit_name = const_cast<char*>("MSC");
    dev.swversion = const_cast<char*>("1.7.0");
    dev.serno = const_cast<char*>(serno);
    struct msgb* resp = ipa_ccm_make_id_resp_from_req(&dev, get_body.data(), static_cast<unsigned>(get_body.size()));
    ASSERT_NE(resp, nullptr);
    const Bytes wire = MsgbBytes(resp);
    msgb_free(resp);
    IpaDecoder d;
    ASSERT_EQ(d.Feed(wire).value(), wire.size());
    const IpaFrame frame = d.Pop().value();
    auto c = ClassifyFrame(frame);
    ASSERT_OK(c);
    ASSERT_EQ(c->kind, Classified::Kind::kIdResp);
    auto id = ParseIdResp(c->body);
    ASSERT_OK(id);
    EXPECT_EQ(id->unit, "0/0/0");
    EXPECT_EQ(id->serial, serno ? serno : "");
  }

  const Bytes ours = EncodeIdResp({{IdTag::kUnit, "1/2/3"}, {IdTag::kUnitName, "MSC"}, {IdTag::kSerNr, "LOADGEN-MSC-1"}})
                         .value();
  tlv_parsed parsed;
  ASSERT_EQ(ipa_ccm_id_resp_parse(&parsed, ours.data() + 4, static_cast<unsigned>(ours.size() - 4)), 0);
  ASSERT_TRUE(TLVP_PRESENT(&parsed, IPAC_IDTAG_UNIT));
  ASSERT_TRUE(TLVP_PRESENT(&parsed, IPAC_IDTAG_SERNR));
  EXPECT_STREQ(reinterpret_cast<const char*>(TLVP_VAL(&parsed, IPAC_IDTAG_SERNR)), "LOADGEN-MSC-1");
  EXPECT_EQ(TLVP_LEN(&parsed, IPAC_IDTAG_SERNR), 14);
  // ipa_ccm_tlv_to_unitdata allocates the strings under the unit: it must be a talloc chunk.
  auto* unit = talloc_zero(nullptr, struct ipaccess_unit);
  ASSERT_NE(unit, nullptr);
  ASSERT_EQ(ipa_ccm_tlv_to_unitdata(unit, &parsed), 0);
  EXPECT_EQ(unit->site_id, 1);
  EXPECT_EQ(unit->bts_id, 2);
  EXPECT_EQ(unit->trx_id, 3);
  EXPECT_STREQ(unit->serno, "LOADGEN-MSC-1");
  EXPECT_STREQ(unit->unit_name, "MSC");
  talloc_free(unit);
}

#if defined(SIMKMS_HAVE_LIBOSMO_GSUP_CLIENT)
// Our response rules against osmo-hlr's osmo_gsup_make_response(), the way
// osmo-hlr's rx_send_auth_info() and osmo_gsup_req_respond_err() call it.
TEST(GsupLibosmo, ResponsesMatchOsmoGsupMakeResponse) {
  int i = 0;
  for (const Message& req : Requests()) {
    SCOPED_TRACE(Describe(req));
    OsmoDecoded rx;
    OsmoDecode(Encode(req).value(), rx);
    ASSERT_EQ(rx.rc, 0);

    std::vector<AuthTuple> tuples;
    for (std::size_t k = 0; k < VectorsToGenerate(req); ++k) tuples.push_back(MakeTuple(i++));
    Message result_msg = MakeResult(req, tuples).value();
    osmo_gsup_message reply{};
    reply.message_type = OSMO_GSUP_MSGT_SEND_AUTH_INFO_RESULT;
    reply.num_auth_vectors = tuples.size();
    for (std::size_t k = 0; k < tuples.size(); ++k) {
      Message only;
      only.type = MessageType::kSendAuthInfoResult;
      only.imsi = req.imsi;
      only.tuples = {tuples[k]};
      reply.auth_vectors[k] = ToOsmo(only).auth_vectors[0];
    }
    EXPECT_EQ(osmo_gsup_make_response(&reply, &rx.g, false, true), 0);
    EXPECT_EQ(ToHex(OsmoEncode(reply)), ToHex(Encode(result_msg).value()));

    for (GmmCause cause : {GmmCause::kImsiUnknown, GmmCause::kNetworkFailure}) {
      osmo_gsup_message err{};
      err.cause = static_cast<gsm48_gmm_cause>(cause);
      EXPECT_EQ(osmo_gsup_make_response(&err, &rx.g, true, true), 0);
      EXPECT_EQ(ToHex(OsmoEncode(err)), ToHex(Encode(MakeError(req, cause).value()).value()));
    }
  }
}

// The HLR's location messages (location.h) against osmo-hlr 1.5's way of
// building them with libosmogsm: lu_fsm.c sends
// osmo_gsup_create_insert_subscriber_data_msg()'s message (MSISDN by
// gsm48_encode_bcd_number() with no header octet, CN_DOMAIN, for PS the
// wildcard APN of osmo_apn_from_str("*") in context 1) through
// osmo_gsup_req_respond(..., final_response = false), then
// UPDATE_LOCATION_RESULT and rx_purge_ms_req()'s PURGE_MS_RESULT through
// osmo_gsup_req_respond_msgt() (final).
TEST(GsupLibosmo, LocationMessagesMatchOsmoHlrs) {
  int i = 0;
  for (std::optional<uint8_t> cn : {std::optional<uint8_t>(), std::optional<uint8_t>(kCnDomainPs),
                                    std::optional<uint8_t>(kCnDomainCs)}) {
    for (bool with_class : {false, true}) {
      for (bool with_source : {false, true}) {
        for (std::optional<uint8_t> session : {std::optional<uint8_t>(), std::optional<uint8_t>(1),
                                               std::optional<uint8_t>(kSessionStateEnd)}) {
          for (const char* msisdn : {"", "1", "12345", "4917012345678", "123456789012345"}) {
            Message ul;
            ul.type = MessageType::kUpdateLocationRequest;
            ul.imsi = kImsis[i++ % 3];
            ul.cn_domain = cn;
            if (with_class) ul.message_class = kMessageClassSubscriberManagement;
            if (with_source) ul.source_name = Bytes{'V', 'L', 'R', 0};
            if (session) {
              ul.session_id = 0x01020304u;
              ul.session_state = session;
            }
            SCOPED_TRACE(Describe(ul) + " msisdn '" + msisdn + "'");
            OsmoDecoded rx;
            OsmoDecode(Encode(ul).value(), rx);
            ASSERT_EQ(rx.rc, 0);
            const bool ps = Raw(rx.g.cn_domain) != OSMO_GSUP_CN_DOMAIN_CS;

            osmo_gsup_message isd{};
            isd.message_type = OSMO_GSUP_MSGT_INSERT_DATA_REQUEST;
            OSMO_STRLCPY_ARRAY(isd.imsi, rx.g.imsi);
            uint8_t msisdn_enc[OSMO_GSUP_MAX_CALLED_PARTY_BCD_LEN];
            const int len = gsm48_encode_bcd_number(msisdn_enc, sizeof msisdn_enc, 0, msisdn);
            ASSERT_GE(len, 1);
            isd.msisdn_enc = msisdn_enc;
            isd.msisdn_enc_len = static_cast<size_t>(len);
            isd.cn_domain = ps ? OSMO_GSUP_CN_DOMAIN_PS : OSMO_GSUP_CN_DOMAIN_CS;
            uint8_t apn[APN_MAXLEN];
            if (ps) {
              const int apn_len = osmo_apn_from_str(apn, sizeof apn, "*");
              ASSERT_GT(apn_len, 0);
              isd.pdp_infos[0].apn_enc = apn;
              isd.pdp_infos[0].apn_enc_len = static_cast<size_t>(apn_len);
              isd.pdp_infos[0].have_info = 1;
              isd.pdp_infos[0].context_id = 1;
              isd.num_pdp_infos = 1;
            }
            EXPECT_EQ(osmo_gsup_make_response(&isd, &rx.g, false, false), 0);
            EXPECT_EQ(ToHex(Encode(MakeInsertDataRequest(ul, msisdn).value()).value()), ToHex(OsmoEncode(isd)));

            for (auto [request, result] : {std::pair{MessageType::kUpdateLocationRequest, MessageType::kUpdateLocationResult},
                                           std::pair{MessageType::kPurgeMsRequest, MessageType::kPurgeMsResult}}) {
              Message req = ul;
              req.type = request;
              OsmoDecoded rx_req;
              OsmoDecode(Encode(req).value(), rx_req);
              ASSERT_EQ(rx_req.rc, 0);
              osmo_gsup_message reply{};
              reply.message_type = static_cast<osmo_gsup_message_type>(result);
              EXPECT_EQ(osmo_gsup_make_response(&reply, &rx_req.g, false, true), 0);
              EXPECT_EQ(ToHex(Encode(MakeResponse(req, result, true).value()).value()), ToHex(OsmoEncode(reply)));
            }
          }
        }
      }
    }
  }
}

// InvalidImsiAnswer() against osmo-hlr's path: osmo_gsup_decode accepts the
// IMSI, osmo_imsi_str_valid refuses it, osmo_gsup_req_respond_err answers 0x60.
TEST(GsupLibosmo, InvalidImsiAnswerMatchesOsmoHlr) {
  for (const char* hex : {"08" "0108" "000101000000a0f2" "0a0101", "08" "0103" "0001f1" "0a0101",
                          "08" "0108" "0001010000004012" "0a0101", "08" "0100" "280102",
                          "08" "0101" "21" "520101" "6003414243" "310101" "300400000009",
                          "08" "0108" "bbbbbbbbbbbbbbbb" "0a0101"}) {
    const Bytes request = Hex(hex);
    OsmoDecoded rx;
    OsmoDecode(request, rx);
    ASSERT_EQ(rx.rc, 0) << hex;
    ASSERT_FALSE(osmo_imsi_str_valid(rx.g.imsi)) << hex;
    osmo_gsup_message err{};
    err.cause = GMM_CAUSE_INV_MAND_INFO;
    osmo_gsup_make_response(&err, &rx.g, true, true);
    auto ours = InvalidImsiAnswer(request);
    ASSERT_TRUE(ours.has_value()) << hex;
    EXPECT_EQ(ToHex(*ours), ToHex(OsmoEncode(err))) << hex;
  }
}

// A CHECK_IMEI_REQUEST answered as osmo-hlr 1.5's rx_check_imei_req answers it
// with libosmo-gsup-client's osmo_gsup_req_respond(): CHECK_IMEI_RESULT with
// imei_result ACK (final), or osmo_gsup_req_respond_err() with
// GMM_CAUSE_INV_MAND_INFO, built by osmo_gsup_make_response().
TEST(GsupLibosmo, CheckImeiAnswersMatchOsmoHlrs) {
  for (const Message& request : CheckImeiMessages()) {
    if (request.type != MessageType::kCheckImeiRequest) continue;
    SCOPED_TRACE(Describe(request));
    OsmoDecoded rx;
    OsmoDecode(Encode(request).value(), rx);
    ASSERT_EQ(rx.rc, 0);
    osmo_gsup_message ack{};
    ack.message_type = OSMO_GSUP_MSGT_CHECK_IMEI_RESULT;
    ack.imei_result = OSMO_GSUP_IMEI_RESULT_ACK;
    EXPECT_EQ(osmo_gsup_make_response(&ack, &rx.g, false, true), 0);
    EXPECT_EQ(ToHex(Encode(MakeCheckImeiResult(request).value()).value()), ToHex(OsmoEncode(ack)));
    osmo_gsup_message err{};
    err.cause = GMM_CAUSE_INV_MAND_INFO;
    EXPECT_EQ(osmo_gsup_make_response(&err, &rx.g, true, true), 0);
    EXPECT_EQ(ToHex(Encode(MakeError(request, GmmCause::kInvalidMandatoryInfo).value()).value()),
              ToHex(OsmoEncode(err)));
  }
}
#endif

// IEs libosmogsm validates although we skip them (see docs/gsup.md §3.2).
bool HasIeOnlyLibosmoValidates(ByteView data) {
  std::size_t pos = 1;
  while (pos + 2 <= data.size()) {
    const uint8_t tag = data[pos];
    const std::size_t len = data[pos + 1];
    if (tag == 0x04 || tag == 0x05 || tag == 0x10 || tag == 0x29 || tag == 0x41 || tag == 0x42 || tag == 0x62) {
      return true;
    }
    pos += 2 + len;
  }
  return false;
}

// Mutated messages: we are never more lenient than libosmogsm (except for the IEs
// above), and where we accept, both read the same content.
TEST(GsupLibosmo, MutationsAgree) {
  std::vector<Bytes> seeds;
  for (const Message& m : Results()) seeds.push_back(Encode(m).value());
  for (const Message& m : CheckImeiMessages()) seeds.push_back(Encode(m).value());
  const auto requests = Requests();
  for (std::size_t k = 0; k < requests.size(); k += 7) seeds.push_back(Encode(requests[k]).value());
  XorShift32 rnd(2463534242u);
  int ours_ok = 0, both_refused = 0, only_libosmo_refused_skipped_ie = 0, ours_stricter = 0;
  for (int i = 0; i < 40000; ++i) {
    Bytes b = seeds[rnd() % seeds.size()];
    const int edits = 1 + static_cast<int>(rnd() % 2);
    for (int e = 0; e < edits && !b.empty(); ++e) {
      switch (rnd() % 3) {
        case 0: b[rnd() % b.size()] = static_cast<uint8_t>(rnd()); break;
        case 1: b.resize(rnd() % b.size()); break;
        case 2: b.insert(b.begin() + static_cast<std::ptrdiff_t>(rnd() % b.size()), static_cast<uint8_t>(rnd())); break;
      }
    }
    auto ours = Decode(b);
    OsmoDecoded theirs;
    OsmoDecode(b, theirs);
    if (ours.ok()) {
      if (theirs.rc != 0) {
        EXPECT_TRUE(HasIeOnlyLibosmoValidates(b)) << "libosmogsm refuses (" << theirs.rc << ") what we accept: " << ToHex(b);
        ++only_libosmo_refused_skipped_ie;
        continue;
      }
      ++ours_ok;
      Message seen = FromOsmo(theirs.g);
      Message expected = *ours;
      // libosmogsm: NUM_VECTORS_REQ 0 reads as absent; tuples in a SAI request share num_auth_vectors.
      if (expected.type == MessageType::kSendAuthInfoRequest) {
        if (expected.num_vectors_req == 0) expected.num_vectors_req.reset();
        if (!expected.tuples.empty()) continue;
      } else {
        expected.num_vectors_req.reset();
      }
      // Values libosmogsm cannot tell from absent.
      if (expected.cause && static_cast<uint8_t>(*expected.cause) == 0) expected.cause.reset();
      if (expected.cn_domain == 0) expected.cn_domain.reset();
      if (expected.current_rat_type == 0) expected.current_rat_type.reset();
      if (!expected.session_state || *expected.session_state == 0) {
        expected.session_state.reset();
        expected.session_id.reset();
      } else if (!expected.session_id) {
        expected.session_id = 0;
      }
      EXPECT_EQ(seen, expected) << ToHex(b);
    } else if (theirs.rc != 0) {
      ++both_refused;
    } else {
      ++ours_stricter;
    }
  }
  EXPECT_GT(ours_ok, 1000);
  EXPECT_GT(both_refused, 1000);
  RecordProperty("ours_ok", ours_ok);
  RecordProperty("both_refused", both_refused);
  RecordProperty("ours_stricter", ours_stricter);
  RecordProperty("only_libosmo_refused_skipped_ie", only_libosmo_refused_skipped_ie);
  std::printf("accepted by both %d, refused by both %d, refused only by us %d, refused only by libosmogsm %d\n",
              ours_ok, both_refused, ours_stricter, only_libosmo_refused_skipped_ie);
}

}  // namespace
}  // namespace simkms::gsup

#else  // !SIMKMS_HAVE_LIBOSMOGSM

TEST(GsupLibosmo, LibosmocoreIsInstalled) {
  FAIL() << "libosmocore-dev (pkg-config libosmogsm, libosmocore) was not found when this test was configured: "
            "install it (scripts/simkms.sh installs the Debian packages) and re-run cmake. This test is the "
            "independent check of the GSUP codec.";
}

#endif
