// Ranges: overlap rules, lookups by ICCID and IMSI, and the "no static load" property.
#include <gtest/gtest.h>

#include <map>

#include "storage/identifiers.h"
#include "storage/store.h"
#include "tests/storage/storage_test_util.h"
#include "tests/storage/test_database.h"
#include "tests/support/status_testing.h"

namespace simkms::storage {
namespace {

using namespace simkms::storage::testing;

constexpr uint64_t kIccid0 = 894901000000000000ULL;
constexpr uint64_t kImsi0 = 1010000000000ULL;

class StorageRanges : public ::testing::TestWithParam<Engine> {
 protected:
  StorageRanges() : fx_(GetParam()) {}
  void SetUp() override {
    store_ = fx_.Open();
    ASSERT_NE(store_, nullptr);
    WriteSet ws;
    ws.PutVer(TestVer(1));
    // Range A: ICCID bodies kIccid0+1000 .. +1099, IMSIs kImsi0+5000 .. +5099.
    ws.PutRange(TestRange("A", kIccid0 + 1000, kImsi0 + 5000, 100));
    ASSERT_OK(store_->Commit(ws, TestEvent("range.add", "A")));
  }
  Status AddRange(const RangeRecord& r) {
    WriteSet ws;
    ws.PutRange(r);
    return store_->Commit(ws, TestEvent("range.add", r.id));
  }
  std::map<std::string, uint64_t> KeyCounts() {
    std::map<std::string, uint64_t> out;
    for (const auto& cf : Store::ColumnFamilyNames()) {
      auto n = store_->CountKeys(cf);
      EXPECT_OK(n);
      out[cf] = n.ok() ? *n : 0;
    }
    return out;
  }

  StoreFixture fx_;
  std::unique_ptr<Store> store_;
};
INSTANTIATE_TEST_SUITE_P(Engines, StorageRanges, ::testing::ValuesIn(AllEngines()), EngineTestName);

TEST_P(StorageRanges, OverlapMatrix) {
  struct Case {
    const char* name;
    uint64_t iccid_off;  // offsets from kIccid0 / kImsi0
    uint64_t imsi_off;
    uint64_t count;
    bool ok;
    const char* clash;  // expected substring of the error
  };
  // A = ICCID [1000, 1099], IMSI [5000, 5099]. Every case is tried alone against A.
  const Case cases[] = {
      {"iccid-start-inside", 1050, 9000, 100, false, "ICCID bodies"},
      {"iccid-end-inside", 950, 9000, 51, false, "ICCID bodies"},
      {"iccid-contains-A", 900, 9000, 300, false, "ICCID bodies"},
      {"iccid-inside-A", 1010, 9000, 5, false, "ICCID bodies"},
      {"iccid-identical", 1000, 9000, 100, false, "ICCID bodies"},
      {"iccid-last-equals-first", 900, 9000, 101, false, "ICCID bodies"},
      {"iccid-first-equals-last", 1099, 9000, 10, false, "ICCID bodies"},
      {"imsi-start-inside", 3000, 5050, 100, false, "IMSIs"},
      {"imsi-end-inside", 3000, 4950, 51, false, "IMSIs"},
      {"imsi-contains-A", 3000, 4000, 2000, false, "IMSIs"},
      {"imsi-inside-A", 3000, 5010, 5, false, "IMSIs"},
      {"imsi-first-equals-last", 3000, 5099, 1, false, "IMSIs"},
      {"adjacent-below-both", 900, 4900, 100, true, ""},
      {"adjacent-above-both", 1100, 5100, 100, true, ""},
      {"adjacent-crossed", 1100, 4900, 100, true, ""},
      {"far-away", 50'000'000, 70'000'000, 10'000'000, true, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Status s = AddRange(TestRange(c.name, kIccid0 + c.iccid_off, kImsi0 + c.imsi_off, c.count));
    if (c.ok) {
      EXPECT_OK(s);
      // Undo so the next case again sees only A.
      WriteSet del;
      del.DeleteRange(c.name);
      ASSERT_OK(store_->Commit(del, TestEvent("range.delete", c.name)));
    } else {
      EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
      EXPECT_NE(s.message().find("overlaps range 'A'"), std::string::npos) << s.message();
      EXPECT_NE(s.message().find(c.clash), std::string::npos) << s.message();
      EXPECT_EQ(store_->GetRange(c.name).status().code(), StatusCode::kNotFound);
    }
  }
  ASSERT_OK_AND_ASSIGN(auto all, store_->ListRanges());
  EXPECT_EQ(all.size(), 1u);
}

TEST_P(StorageRanges, OverlapWithANeighbourFurtherAway) {
  // B sits far above A; a candidate between them that reaches into B is caught by the
  // forward neighbour check, one reaching back into A by the reverse one.
  ASSERT_OK(AddRange(TestRange("B", kIccid0 + 10'000, kImsi0 + 20'000, 100)));
  EXPECT_EQ(AddRange(TestRange("C", kIccid0 + 5'000, kImsi0 + 19'950, 100)).code(), StatusCode::kAlreadyExists);
  Status s = AddRange(TestRange("D", kIccid0 + 9'950, kImsi0 + 30'000, 100));
  EXPECT_NE(s.message().find("overlaps range 'B'"), std::string::npos) << s.ToString();
  EXPECT_OK(AddRange(TestRange("E", kIccid0 + 5'000, kImsi0 + 10'000, 100)));
}

TEST_P(StorageRanges, DuplicateIdIsRefused) {
  Status s = AddRange(TestRange("A", kIccid0 + 90'000, kImsi0 + 90'000, 1));
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find("range id 'A' already exists"), std::string::npos) << s.message();
}

TEST_P(StorageRanges, OverlapInsideOneWriteSetIsRefused) {
  WriteSet ws;
  ws.PutRange(TestRange("X", kIccid0 + 20'000, kImsi0 + 20'000, 100));
  ws.PutRange(TestRange("Y", kIccid0 + 20'050, kImsi0 + 40'000, 100));
  Status s = store_->Commit(ws, TestEvent("range.add"));
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find("overlaps range 'X'"), std::string::npos) << s.message();
  EXPECT_EQ(store_->GetRange("X").status().code(), StatusCode::kNotFound);

  // Deleting A and re-adding an overlapping range in the same set is fine.
  WriteSet replace;
  replace.DeleteRange("A");
  replace.PutRange(TestRange("A2", kIccid0 + 1000, kImsi0 + 5000, 200));
  ASSERT_OK(store_->Commit(replace, TestEvent("range.replace")));
  ASSERT_OK_AND_ASSIGN(RangeRecord a2, store_->FindRangeByIccid(kIccid0 + 1150));
  EXPECT_EQ(a2.id, "A2");
}

TEST_P(StorageRanges, FindByIccidAndImsi) {
  ASSERT_OK(AddRange(TestRange("B", kIccid0 + 2000, kImsi0 + 1000, 50)));
  struct Case {
    uint64_t iccid_off;
    const char* want;  // nullptr: NotFound
  };
  for (const Case& c : {Case{999, nullptr}, Case{1000, "A"}, Case{1050, "A"}, Case{1099, "A"}, Case{1100, nullptr},
                        Case{1999, nullptr}, Case{2000, "B"}, Case{2049, "B"}, Case{2050, nullptr}, Case{0, nullptr}}) {
    auto r = store_->FindRangeByIccid(kIccid0 + c.iccid_off);
    if (c.want == nullptr) {
      EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << c.iccid_off;
    } else {
      ASSERT_TRUE(r.ok()) << c.iccid_off << ": " << r.status().ToString();
      EXPECT_EQ(r->id, c.want);
    }
  }
  for (const Case& c : {Case{999, nullptr}, Case{1000, "B"}, Case{1049, "B"}, Case{1050, nullptr}, Case{5000, "A"},
                        Case{5099, "A"}, Case{5100, nullptr}}) {
    auto r = store_->FindRangeByImsi(kImsi0 + c.iccid_off);
    if (c.want == nullptr) {
      EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << c.iccid_off;
    } else {
      ASSERT_TRUE(r.ok()) << c.iccid_off << ": " << r.status().ToString();
      EXPECT_EQ(r->id, c.want);
    }
  }
  // Position i in one interval pairs with position i in the other.
  ASSERT_OK_AND_ASSIGN(RangeRecord a, store_->FindRangeByImsi(kImsi0 + 5042));
  EXPECT_EQ(a.iccid_first + (kImsi0 + 5042 - a.imsi_first), kIccid0 + 1042);
  EXPECT_EQ(store_->FindRangeByIccid(0).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->FindRangeByImsi(UINT64_MAX).status().code(), StatusCode::kNotFound);
}

// 20-digit ICCIDs (19-digit bodies, from 10^18 up) beside 19-digit ones: the body's
// value says its length, so one key space serves both and lookups never confuse them.
TEST_P(StorageRanges, TwentyDigitIccidsLiveBesideNineteenDigitOnes) {
  constexpr uint64_t kLong0 = 8949010000000000000ULL;  // 20-digit ICCID 89490100000000000006
  ASSERT_OK(AddRange(TestRange("L", kLong0, kImsi0 + 9000, 100)));
  ASSERT_OK_AND_ASSIGN(RangeRecord l, store_->FindRangeByIccid(kLong0 + 99));
  EXPECT_EQ(l.id, "L");
  EXPECT_EQ(FormatIccid(l.iccid_first), "89490100000000000006");
  EXPECT_EQ(store_->FindRangeByIccid(kLong0 + 100).status().code(), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(RangeRecord a, store_->FindRangeByIccid(kIccid0 + 1000));
  EXPECT_EQ(a.id, "A");
  ASSERT_OK_AND_ASSIGN(RangeRecord by_imsi, store_->FindRangeByImsi(kImsi0 + 9042));
  EXPECT_EQ(by_imsi.id, "L");
  // A range across 10^18 would mix the two lengths: refused, nothing stored.
  EXPECT_EQ(AddRange(TestRange("X", kLongIccidBodyFirst - 1, kImsi0 + 20000, 2)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->FindRangeByImsi(kImsi0 + 20000).status().code(), StatusCode::kNotFound);
}

TEST_P(StorageRanges, TenMillionChipsCostOneRecord) {
  const auto before = KeyCounts();
  uint64_t seq_small = 0, seq_big = 0;
  WriteSet small;
  small.PutRange(TestRange("one-chip", kIccid0 + 100'000, kImsi0 + 100'000, 1));
  ASSERT_OK(store_->Commit(small, TestEvent("range.add"), &seq_small));
  const auto after_small = KeyCounts();
  WriteSet big;
  big.PutRange(TestRange("ten-million", kIccid0 + 1'000'000, kImsi0 + 1'000'000, 10'000'000));
  ASSERT_OK(store_->Commit(big, TestEvent("range.add"), &seq_big));
  const auto after_big = KeyCounts();
  EXPECT_EQ(seq_big, seq_small + 1);
  for (const auto& cf : Store::ColumnFamilyNames()) {
    const uint64_t small_delta = after_small.at(cf) - before.at(cf);
    const uint64_t big_delta = after_big.at(cf) - after_small.at(cf);
    EXPECT_EQ(small_delta, big_delta) << cf;
    // ranges: 1, imsi_ranges: 1, audit: 1; nothing per chip anywhere.
    EXPECT_EQ(big_delta, (cf == "ranges" || cf == "imsi_ranges" || cf == "audit") ? 1u : 0u) << cf;
  }
  // And the chips are addressable: first, middle and last.
  for (uint64_t off : {uint64_t{0}, uint64_t{5'000'000}, uint64_t{9'999'999}}) {
    ASSERT_OK_AND_ASSIGN(RangeRecord r, store_->FindRangeByIccid(kIccid0 + 1'000'000 + off));
    EXPECT_EQ(r.id, "ten-million");
    ASSERT_OK_AND_ASSIGN(RangeRecord r2, store_->FindRangeByImsi(kImsi0 + 1'000'000 + off));
    EXPECT_EQ(r2.id, "ten-million");
  }
  EXPECT_EQ(store_->FindRangeByIccid(kIccid0 + 11'000'000).status().code(), StatusCode::kNotFound);
  // Seen raw: the whole DB grew by exactly those three keys.
  store_.reset();
  auto raw = fx_.Raw();
  std::size_t total_before = 0;
  for (const auto& [cf, n] : after_small) total_before += n;
  EXPECT_EQ(raw->TotalKeys(), total_before + 3);
}

TEST_P(StorageRanges, RangeNeedsVerAndPinsIt) {
  EXPECT_EQ(AddRange(TestRange("V9", kIccid0 + 50'000, kImsi0 + 50'000, 1, /*ver=*/9)).code(),
            StatusCode::kFailedPrecondition);
  WriteSet del_ver;
  del_ver.DeleteVer(1);
  Status s = store_->Commit(del_ver, TestEvent("ver.delete"));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("range 'A' uses it"), std::string::npos) << s.message();
}

TEST_P(StorageRanges, DeleteRangeRemovesBothKeys) {
  WriteSet del;
  del.DeleteRange("A");
  ASSERT_OK(store_->Commit(del, TestEvent("range.delete", "A")));
  EXPECT_EQ(store_->FindRangeByIccid(kIccid0 + 1000).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->FindRangeByImsi(kImsi0 + 5000).status().code(), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(uint64_t n, store_->CountKeys("imsi_ranges"));
  EXPECT_EQ(n, 0u);
  WriteSet again;
  again.DeleteRange("A");
  EXPECT_EQ(store_->Commit(again, TestEvent("range.delete", "A")).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->CountKeys("nope").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace simkms::storage
