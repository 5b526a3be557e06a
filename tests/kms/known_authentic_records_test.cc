#include "kms/known_authentic_records.h"

#include <gtest/gtest.h>

#include <string>

namespace simkms::kms {
namespace {

Bytes B(const std::string& s) { return Bytes(s.begin(), s.end()); }

TEST(KnownAuthenticRecords, KnowsOnlyTheSameBytesUnderTheSameMac) {
  KnownAuthenticRecords known;
  const Bytes data = B("subscribers/001010000000001/record-v2");
  const Bytes mac = B("0123456789abcdef0123456789abcdef");
  EXPECT_FALSE(known.Contains(data, mac));
  known.Remember(data, mac);
  EXPECT_TRUE(known.Contains(data, mac));
  // One byte of the record or of its MAC changed: not known, the token decides.
  for (std::size_t i = 0; i < data.size(); ++i) {
    Bytes edited = data;
    edited[i] ^= 0x01;
    EXPECT_FALSE(known.Contains(edited, mac)) << "data byte " << i;
  }
  for (std::size_t i = 0; i < mac.size(); ++i) {
    Bytes edited = mac;
    edited[i] ^= 0x80;
    EXPECT_FALSE(known.Contains(data, edited)) << "mac byte " << i;
  }
  // The same bytes split differently between record and MAC.
  Bytes longer_data = data;
  longer_data.push_back(mac.front());
  EXPECT_FALSE(known.Contains(longer_data, Bytes(mac.begin() + 1, mac.end())));
  EXPECT_FALSE(known.Contains(data, Bytes()));
}

TEST(KnownAuthenticRecords, ForgetsTheOldestPastItsCapacity) {
  constexpr std::size_t kCapacity = 64;
  KnownAuthenticRecords known(kCapacity);
  const Bytes mac = B("mac");
  for (int i = 0; i < 100 * static_cast<int>(kCapacity); ++i) known.Remember(B("record " + std::to_string(i)), mac);
  int kept = 0;
  for (int i = 0; i < 100 * static_cast<int>(kCapacity); ++i) kept += known.Contains(B("record " + std::to_string(i)), mac);
  // Per shard at most capacity / shards + 1: bounded near the capacity, never all.
  EXPECT_GT(kept, 0);
  EXPECT_LE(kept, static_cast<int>(kCapacity) + 16);
  // The newest are the ones kept.
  EXPECT_TRUE(known.Contains(B("record " + std::to_string(100 * kCapacity - 1)), mac));
  EXPECT_FALSE(known.Contains(B("record 0"), mac));
}

}  // namespace
}  // namespace simkms::kms
