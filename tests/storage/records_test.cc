// Record encodings: round trips, forward compatibility (unknown tags), corruption.
#include "storage/records.h"

#include <gtest/gtest.h>

#include <functional>

#include "storage/identifiers.h"
#include "storage/tlv.h"
#include "tests/storage/storage_test_util.h"
#include "tests/support/status_testing.h"

namespace simkms::storage {
namespace {

using testing::TestRange;
using testing::TestSubscriber;
using testing::TestVer;
using testing::TestWrappedKey;

SubscriberRecord FullSubscriber() {
  SubscriberRecord r = TestSubscriber(42);
  r.state = SubscriberState::kRekeyPending;
  r.hotline = false;
  r.ki2_key_id = "ki2/001010000000042/3";
  r.ki2_kcv = Bytes{0xab, 0xcd, 0xef};
  r.puk_ciphertext = Bytes(24, 0x77);
  r.sqn = 0x0000123456789abcULL;
  r.activation_tries_left = 0xffffffffu;
  r.created_at = -5;  // before 1970: still round-trips
  r.updated_at = 1800000000;
  r.ota_counter_in = 7;
  r.ota_counter_out = 8;
  r.ota.ki1 = {0xffffffffffULL, 12};
  r.ota.previous_ki2 = {13, 14};
  r.ota.clone_alarms.seen = {CloneAlarmLog::Id(1, 0xffffffffffULL), CloneAlarmLog::Id(2, 5)};
  r.ota.clone_alarms.last_audited_at = 1800000001;
  r.ota.clone_alarms.suppressed = 3;
  return r;
}

// `enc` without its fields of tag >= `first_dropped`, with format version `version`.
Bytes WithoutTagsFrom(const Bytes& enc, uint8_t first_dropped, uint8_t version) {
  tlv::Reader reader(enc, "test");
  EXPECT_OK(reader.ReadVersion(enc[0]));
  tlv::Writer w(version);
  while (!reader.done()) {
    StatusOr<tlv::Field> f = reader.Next();
    if (!f.ok()) break;
    if (f->tag < first_dropped) w.AddBytes(f->tag, f->value);
  }
  return std::move(w).Finish();
}

VerRecord CustomVer() {
  VerRecord r = TestVer(7);
  r.profile = KeyProfile::kLegacy;
  r.dh_group = DhGroup::kCustom;
  r.custom_p = Bytes(256, 0xff);
  r.custom_g = Bytes{0x02};
  static constexpr char kDescription[] = "with \0 NUL and UTF-8 \xc3\xa9";
  r.description = std::string(kDescription, sizeof(kDescription) - 1);
  return r;
}

Bytes WithUnknownFieldFirst(const Bytes& enc) {
  Bytes out = {enc[0], 200, 0x03, 0x01, 0x02, 0x03};  // tag 200, 3 bytes
  out.insert(out.end(), enc.begin() + 1, enc.end());
  return out;
}

Bytes WithUnknownFieldLast(const Bytes& enc) {
  Bytes out = enc;
  // tag 99 with a 200-byte value (two-byte length varint)
  out.push_back(99);
  out.push_back(0xc8);
  out.push_back(0x01);
  out.insert(out.end(), 200, 0xee);
  return out;
}

TEST(StorageRecords, VerRoundTrip) {
  for (const VerRecord& r : {TestVer(1), CustomVer(), TestVer(0xffffffffu)}) {
    Bytes enc = EncodeVerRecord(r);
    EXPECT_EQ(enc[0], 1) << "format version byte";
    auto dec = DecodeVerRecord(enc);
    ASSERT_OK(dec);
    EXPECT_EQ(*dec, r);
  }
}

TEST(StorageRecords, RangeRoundTrip) {
  RangeRecord r = TestRange("r-0001", 894901000000000000ULL, 1010000000000ULL, 10'000'000);
  auto dec = DecodeRangeRecord(EncodeRangeRecord(r));
  ASSERT_OK(dec);
  EXPECT_EQ(*dec, r);
  // The largest legal range ends exactly at the top of both spaces.
  RangeRecord top = TestRange("top", kIccidBodyLimit - 5, kImsiLimit - 5, 5);
  ASSERT_OK(ValidateRangeRecord(top));
  auto dec_top = DecodeRangeRecord(EncodeRangeRecord(top));
  ASSERT_OK(dec_top);
  EXPECT_EQ(*dec_top, top);
}

TEST(StorageRecords, SubscriberRoundTrip) {
  for (const SubscriberRecord& r : {TestSubscriber(0), FullSubscriber()}) {
    auto dec = DecodeSubscriberRecord(EncodeSubscriberRecord(r));
    ASSERT_OK(dec);
    EXPECT_EQ(*dec, r);
  }
}

TEST(StorageRecords, WrappedKeyRoundTrip) {
  WrappedKeyRecord r = TestWrappedKey("kek/1");
  auto dec = DecodeWrappedKeyRecord(EncodeWrappedKeyRecord(r));
  ASSERT_OK(dec);
  EXPECT_EQ(*dec, r);
}

TEST(StorageRecords, AuditRecordRoundTrip) {
  AuditRecord r;
  r.seq = 77;
  r.event = testing::TestEvent("ver.add", "VER 3", -1);
  r.event.details = {{"k1_kcv", "1a2b3c"}, {"", "empty key"}, {"empty value", ""}, {"count", "10000000"}};
  r.prev_hash = Bytes(32, 0x11);
  r.mac = Bytes(32, 0x22);
  Bytes enc = EncodeAuditRecord(r);
  auto dec = DecodeAuditRecord(enc);
  ASSERT_OK(dec);
  EXPECT_EQ(dec->record, r);
  // The MAC covers exactly the encoding without the mac field, which precedes it.
  Bytes unsigned_part = EncodeAuditRecordForMac(r);
  EXPECT_EQ(dec->mac_offset, unsigned_part.size());
  EXPECT_TRUE(std::equal(unsigned_part.begin(), unsigned_part.end(), enc.begin()));
}

// Before counters were kept per key version one pair (tags 15/16) served every
// key: a format version 1 record decodes with each key's counters taken from
// it, and no clone alarms remembered.
TEST(StorageRecords, SubscriberFromBeforePerKeyCountersDecodes) {
  const SubscriberRecord full = FullSubscriber();
  const Bytes encoded = EncodeSubscriberRecord(full);
  EXPECT_EQ(encoded[0], 2);  // subscriber records are written in format version 2
  auto old = DecodeSubscriberRecord(WithoutTagsFrom(encoded, 19, 1));
  ASSERT_OK(old);
  EXPECT_EQ(old->ota.ki1, (OtaCounters{7, 8}));
  EXPECT_EQ(old->ota.previous_ki2, (OtaCounters{7, 8}));
  EXPECT_EQ(old->ota.clone_alarms, CloneAlarmLog{});
  SubscriberRecord expected = full;
  expected.ota = {{7, 8}, {7, 8}, {}};
  EXPECT_EQ(*old, expected);
  // In version 2 the new tags are required: a record cut before them is DataLoss.
  auto cut = DecodeSubscriberRecord(WithoutTagsFrom(encoded, 19, 2));
  EXPECT_EQ(cut.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(cut.status().message().find("required tag 19 missing"), std::string::npos) << cut.status().ToString();
}

TEST(StorageRecords, CloneAlarmLogIsValidated) {
  SubscriberRecord r = FullSubscriber();
  r.ota.clone_alarms.seen.push_back(CloneAlarmLog::Id(3, 1));
  Status bad = ValidateSubscriberRecord(r);
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("clone alarm under key version 3"), std::string::npos) << bad.ToString();
  auto decoded = DecodeSubscriberRecord(EncodeSubscriberRecord(r));
  EXPECT_EQ(decoded.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(decoded.status().message().find("clone alarm under key version 3"), std::string::npos);
  r = FullSubscriber();
  r.ota.clone_alarms.seen.assign(CloneAlarmLog::kMaxEntries + 1, CloneAlarmLog::Id(1, 1));
  EXPECT_NE(ValidateSubscriberRecord(r).message().find("clone alarms remembered, at most 4096"), std::string::npos);
  // A list whose length is not a multiple of 8.
  Bytes enc = WithoutTagsFrom(EncodeSubscriberRecord(FullSubscriber()), 23, 2);
  enc.insert(enc.end(), {23, 3, 1, 2, 3});
  auto odd = DecodeSubscriberRecord(enc);
  EXPECT_EQ(odd.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(odd.status().message().find("clone alarm list of 3 bytes"), std::string::npos) << odd.status().ToString();
}

TEST(StorageRecords, UnknownTagsAreSkipped) {
  const VerRecord ver = CustomVer();
  const RangeRecord range = TestRange("r-1", 1000, 2000, 10);
  const SubscriberRecord sub = FullSubscriber();
  const WrappedKeyRecord wk = TestWrappedKey("k");
  for (auto add : {WithUnknownFieldFirst, WithUnknownFieldLast}) {
    auto v = DecodeVerRecord(add(EncodeVerRecord(ver)));
    ASSERT_OK(v);
    EXPECT_EQ(*v, ver);
    auto r = DecodeRangeRecord(add(EncodeRangeRecord(range)));
    ASSERT_OK(r);
    EXPECT_EQ(*r, range);
    auto s = DecodeSubscriberRecord(add(EncodeSubscriberRecord(sub)));
    ASSERT_OK(s);
    EXPECT_EQ(*s, sub);
    auto w = DecodeWrappedKeyRecord(add(EncodeWrappedKeyRecord(wk)));
    ASSERT_OK(w);
    EXPECT_EQ(*w, wk);
  }
  // Audit records skip unknown fields placed before the mac, and the MAC covers them.
  AuditRecord a;
  a.seq = 1;
  a.event = testing::TestEvent("x");
  a.prev_hash = Bytes(32, 0);
  a.mac = Bytes{1, 2, 3};
  Bytes unsigned_part = WithUnknownFieldLast(EncodeAuditRecordForMac(a));
  Bytes full = unsigned_part;
  full.insert(full.end(), {255, 3, 1, 2, 3});
  auto d = DecodeAuditRecord(full);
  ASSERT_OK(d);
  EXPECT_EQ(d->record, a);
  EXPECT_EQ(d->mac_offset, unsigned_part.size());
}

TEST(StorageRecords, EncodingIsFieldOrderIndependent) {
  // Decoders accept fields in any order (the encoder writes ascending tags).
  RangeRecord r = TestRange("r-9", 5, 6, 7);
  Bytes enc = EncodeRangeRecord(r);
  // Move the first field (id: tag 1, len 3, "r-9") to the end.
  Bytes moved = {enc[0]};
  moved.insert(moved.end(), enc.begin() + 6, enc.end());
  moved.insert(moved.end(), enc.begin() + 1, enc.begin() + 6);
  auto dec = DecodeRangeRecord(moved);
  ASSERT_OK(dec);
  EXPECT_EQ(*dec, r);
}

// Every proper prefix of a valid encoding is rejected with DataLoss (all v1 fields are
// required, so a truncated record can never decode as a different, shorter one).
template <typename Decode>
void ExpectEveryPrefixRejected(const Bytes& enc, Decode decode, const std::string& what) {
  for (std::size_t n = 0; n < enc.size(); ++n) {
    auto dec = decode(ByteView(enc.data(), n));
    ASSERT_FALSE(dec.ok()) << what << " prefix of " << n << " bytes decoded";
    EXPECT_EQ(dec.status().code(), StatusCode::kDataLoss) << dec.status().ToString();
    EXPECT_NE(dec.status().message().find(what), std::string::npos) << dec.status().message();
  }
}

TEST(StorageRecords, TruncationIsDataLoss) {
  ExpectEveryPrefixRejected(EncodeVerRecord(CustomVer()), DecodeVerRecord, "VER record");
  ExpectEveryPrefixRejected(EncodeRangeRecord(TestRange("r", 1, 2, 3)), DecodeRangeRecord, "range record");
  ExpectEveryPrefixRejected(EncodeSubscriberRecord(FullSubscriber()), DecodeSubscriberRecord, "subscriber record");
  ExpectEveryPrefixRejected(EncodeWrappedKeyRecord(TestWrappedKey("k")), DecodeWrappedKeyRecord,
                            "wrapped key record");
  AuditRecord a;
  a.seq = 3;
  a.event = testing::TestEvent("x");
  a.prev_hash = Bytes(32, 0);
  a.mac = Bytes(32, 9);
  ExpectEveryPrefixRejected(EncodeAuditRecord(a), DecodeAuditRecord, "audit record");
}

// Finds the offset of the value of `tag` in an encoding written by our encoder.
std::size_t ValueOffset(const Bytes& enc, uint8_t tag) {
  std::size_t pos = 1;
  while (pos < enc.size()) {
    const uint8_t t = enc[pos++];
    std::size_t len = 0;
    int shift = 0;
    while (enc[pos] & 0x80) {
      len |= static_cast<std::size_t>(enc[pos++] & 0x7f) << shift;
      shift += 7;
    }
    len |= static_cast<std::size_t>(enc[pos++]) << shift;
    if (t == tag) return pos;
    pos += len;
  }
  ADD_FAILURE() << "tag " << int(tag) << " not found";
  return 0;
}

void ExpectDataLoss(const Status& s, const std::string& needle) {
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.ToString();
  EXPECT_NE(s.message().find(needle), std::string::npos) << "want '" << needle << "' in: " << s.message();
}

// The re-key policy's fields are written only with a policy (a VER without one
// encodes as before them), round-trip, and a partial policy is refused.
TEST(StorageRecords, VerRekeyPolicy) {
  VerRecord r = TestVer(3);
  const Bytes without = EncodeVerRecord(r);
  r.rekey = {86400 * 90, 5, 20000};
  const Bytes with = EncodeVerRecord(r);
  EXPECT_EQ(WithoutTagsFrom(with, 12, 1), without);
  ASSERT_OK_AND_ASSIGN(VerRecord dec, DecodeVerRecord(with));
  EXPECT_EQ(dec.rekey, r.rekey);
  ASSERT_OK_AND_ASSIGN(VerRecord none, DecodeVerRecord(without));
  EXPECT_FALSE(none.rekey.enabled());
  // Only the age (per_second, per_day dropped): no partial policy decodes.
  ExpectDataLoss(DecodeVerRecord(WithoutTagsFrom(with, 13, 1)).status(), "must be all zero (none) or all at least 1");
  for (RekeyPolicy bad : {RekeyPolicy{60, 0, 1}, RekeyPolicy{60, 1, 0}, RekeyPolicy{0, 1, 1}}) {
    r.rekey = bad;
    EXPECT_EQ(ValidateVerRecord(r).code(), StatusCode::kInvalidArgument);
  }
}

TEST(StorageRecords, CorruptFieldsAreDataLossWithContext) {
  const Bytes sub = EncodeSubscriberRecord(FullSubscriber());
  {
    Bytes b = sub;
    b[0] = 9;
    ExpectDataLoss(DecodeSubscriberRecord(b).status(), "subscriber record: unsupported format version 9");
  }
  {
    Bytes b = sub;
    b[ValueOffset(b, 4)] = 9;  // state
    ExpectDataLoss(DecodeSubscriberRecord(b).status(), "state 9 unknown");
  }
  {
    Bytes b = sub;
    b[ValueOffset(b, 5)] = 2;  // hotline
    ExpectDataLoss(DecodeSubscriberRecord(b).status(), "neither 0 nor 1");
  }
  {
    Bytes b = sub;
    b[ValueOffset(b, 2) + 18] ^= 1;  // ICCID Luhn digit
    ExpectDataLoss(DecodeSubscriberRecord(b).status(), "Luhn");
  }
  {
    Bytes b = sub;
    b[ValueOffset(b, 1)] = 'x';  // IMSI
    ExpectDataLoss(DecodeSubscriberRecord(b).status(), "IMSI");
  }
  {
    Bytes b = sub;
    b[ValueOffset(b, 3) - 1] = 3;  // ver length 4 -> 3: misframes everything after
    EXPECT_EQ(DecodeSubscriberRecord(b).status().code(), StatusCode::kDataLoss);
  }
  {
    Bytes b = sub;
    b[ValueOffset(b, 3) - 2] = 2;  // tag 3 (ver) relabelled as tag 2 (ICCID): duplicate
    ExpectDataLoss(DecodeSubscriberRecord(b).status(), "duplicate tag 2");
  }
  {
    Bytes b = sub;
    b[ValueOffset(b, 3) - 2] = 250;  // tag 3 becomes an unknown tag: ver missing
    ExpectDataLoss(DecodeSubscriberRecord(b).status(), "required tag 3 missing");
  }
  {
    Bytes b = EncodeVerRecord(TestVer(1));
    b[ValueOffset(b, 3)] = 4;  // dh_group becomes custom without p/g
    ExpectDataLoss(DecodeVerRecord(b).status(), "custom DH group needs custom_p and custom_g");
    b[ValueOffset(b, 3)] = 0;
    ExpectDataLoss(DecodeVerRecord(b).status(), "dh_group 0 unknown");
  }
  {
    Bytes b = EncodeRangeRecord(TestRange("r", 1, 2, 3));
    const std::size_t count = ValueOffset(b, 6);
    std::fill(b.begin() + static_cast<std::ptrdiff_t>(count), b.begin() + static_cast<std::ptrdiff_t>(count) + 8, 0);
    ExpectDataLoss(DecodeRangeRecord(b).status(), "count must be at least 1");
  }
  {
    AuditRecord a;
    a.seq = 3;
    a.event = testing::TestEvent("x");
    a.prev_hash = Bytes(32, 0);
    a.mac = Bytes(32, 9);
    Bytes b = EncodeAuditRecord(a);
    b.push_back(0);
    ExpectDataLoss(DecodeAuditRecord(b).status(), "bytes after the mac field");
    Bytes c = EncodeAuditRecordForMac(a);
    ExpectDataLoss(DecodeAuditRecord(c).status(), "mac field missing");
    a.prev_hash = Bytes(31, 0);
    ExpectDataLoss(DecodeAuditRecord(EncodeAuditRecord(a)).status(), "prev_hash is 31 bytes");
  }
}

TEST(StorageRecords, ValidationRejectsBadRecords) {
  VerRecord v = TestVer(1);
  v.amf = Bytes{1};
  EXPECT_EQ(ValidateVerRecord(v).code(), StatusCode::kInvalidArgument);
  v = TestVer(1);
  v.custom_p = Bytes{5};
  EXPECT_EQ(ValidateVerRecord(v).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateRangeRecord(TestRange("", 1, 2, 3)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateRangeRecord(TestRange("r", kIccidBodyLimit - 2, 0, 3)).code(), StatusCode::kInvalidArgument);
  // A range may not run from 19-digit into 20-digit ICCIDs.
  EXPECT_EQ(ValidateRangeRecord(TestRange("r", kLongIccidBodyFirst - 1, 0, 2)).code(), StatusCode::kInvalidArgument);
  EXPECT_OK(ValidateRangeRecord(TestRange("r", kLongIccidBodyFirst - 2, 0, 2)));
  EXPECT_OK(ValidateRangeRecord(TestRange("r", kLongIccidBodyFirst, 0, 2)));
  EXPECT_EQ(ValidateRangeRecord(TestRange("r", 0, kImsiLimit - 2, 3)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateRangeRecord(TestRange("r", 0, 0, UINT64_MAX)).code(), StatusCode::kInvalidArgument);
  SubscriberRecord s = TestSubscriber(1);
  s.imsi = "00101";
  EXPECT_EQ(ValidateSubscriberRecord(s).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateWrappedKeyRecord(TestWrappedKey("")).code(), StatusCode::kInvalidArgument);
}

TEST(StorageRecords, IdentifierHelpers) {
  // The classic Luhn example 7992739871 -> check digit 3 (leading zeros change nothing).
  EXPECT_EQ(FormatIccid(7992739871ULL), "0000000079927398713");
  EXPECT_TRUE(IsValidIccid("0000000079927398713"));
  EXPECT_FALSE(IsValidIccid("0000000079927398710"));
  EXPECT_FALSE(IsValidIccid("000000007992739871"));
  // 20 digits: a 19-digit body, never starting with 0 (that would be a 19-digit ICCID's
  // body with a leading zero, and two texts for one number).
  EXPECT_EQ(FormatIccid(8949001234567890123ULL), "89490012345678901234");
  EXPECT_EQ(IccidBodyDigits(8949001234567890123ULL), 19);
  EXPECT_EQ(IccidBodyDigits(kLongIccidBodyFirst - 1), 18);
  EXPECT_TRUE(IsValidIccid("89490012345678901234"));
  EXPECT_EQ(*ParseIccidBody("89490012345678901234"), 8949001234567890123ULL);
  EXPECT_FALSE(IsValidIccid("89490012345678901235"));
  EXPECT_FALSE(IsValidIccid("00000000079927398713"));
  EXPECT_FALSE(IsValidIccid("894900123456789012340"));
  EXPECT_EQ(FormatImsi(1010000000042ULL), "001010000000042");
  EXPECT_EQ(FormatImsi(1), "000000000000001");
  auto body = ParseIccidBody(FormatIccid(894901000000000042ULL));
  ASSERT_OK(body);
  EXPECT_EQ(*body, 894901000000000042ULL);
  std::string bad = FormatIccid(894901000000000042ULL);
  bad[18] = static_cast<char>('0' + (bad[18] - '0' + 1) % 10);
  EXPECT_EQ(ParseIccidBody(bad).status().code(), StatusCode::kInvalidArgument);
  auto imsi = ParseImsi("001010000000001");
  ASSERT_OK(imsi);
  EXPECT_EQ(*imsi, 1010000000001ULL);
  EXPECT_FALSE(ParseImsi("00101000000000a").ok());
  EXPECT_EQ(SubscriberStateName(SubscriberState::kRekeyPending), "REKEY_PENDING");
}

// Tag 26 (MSISDN) is optional: written only when set, so a record without one
// encodes as before and a record written before the tag reads as "no MSISDN".
TEST(StorageRecords, SubscriberMsisdnIsAnOptionalLastField) {
  SubscriberRecord r = FullSubscriber();
  const Bytes without = EncodeSubscriberRecord(r);
  r.msisdn = "4917012345678";
  const Bytes with = EncodeSubscriberRecord(r);
  ASSERT_EQ(with.size(), without.size() + 2 + 13);
  EXPECT_TRUE(std::equal(without.begin(), without.end(), with.begin()));
  EXPECT_EQ(ToHex(ByteView(with).subspan(without.size())), "1a0d" + ToHex(AsBytes("4917012345678")));
  auto dec = DecodeSubscriberRecord(with);
  ASSERT_OK(dec);
  EXPECT_EQ(dec->msisdn, "4917012345678");
  auto none = DecodeSubscriberRecord(without);
  ASSERT_OK(none);
  EXPECT_EQ(none->msisdn, "");
}

TEST(StorageRecords, SubscriberMsisdnMustBe1To15Digits) {
  for (const char* bad : {"1234567890123456", "+4917012345678", "49 170", "49a"}) {
    SCOPED_TRACE(bad);
    SubscriberRecord r = FullSubscriber();
    r.msisdn = bad;
    EXPECT_NE(ValidateSubscriberRecord(r).message().find("is not 1..15 digits (E.164)"), std::string::npos);
    ExpectDataLoss(DecodeSubscriberRecord(EncodeSubscriberRecord(r)).status(), "MSISDN");
  }
  // An empty tag 26 is not how "no MSISDN" is written.
  Bytes empty_field = EncodeSubscriberRecord(FullSubscriber());
  empty_field.push_back(26);
  empty_field.push_back(0);
  ExpectDataLoss(DecodeSubscriberRecord(empty_field).status(), "empty MSISDN field");
  SubscriberRecord longest = FullSubscriber();
  longest.msisdn = "123456789012345";
  EXPECT_OK(ValidateSubscriberRecord(longest));
}

// The worked example of docs/storage-format.md: keep them in step.
TEST(StorageRecords, DocumentedWorkedExample) {
  RangeRecord r;
  r.id = "r-0001";
  r.manufacturer = "ACME";
  r.ver = 1;
  r.iccid_first = 894901000000000000ULL;
  r.imsi_first = 1010000000000ULL;
  r.count = 10'000'000;
  r.created_at = 1700000000;
  EXPECT_EQ(ToHex(EncodeRangeRecord(r)),
            "01"                        // format version 1
            "0106722d30303031"          // tag 1 id, len 6, "r-0001"
            "020441434d45"              // tag 2 manufacturer, len 4, "ACME"
            "030400000001"              // tag 3 ver, len 4, 1
            "04080c6b53b7d6245000"      // tag 4 iccid_first, len 8, 894901000000000000
            "0508000000eb28b0f400"      // tag 5 imsi_first, len 8, 1010000000000 (001010000000000)
            "06080000000000989680"      // tag 6 count, len 8, 10000000
            "0708000000006553f100");    // tag 7 created_at, len 8, 1700000000
}

}  // namespace
}  // namespace simkms::storage
