// `audit verify --state`: do the live records say what the audit trail says they
// are? Record MACs (record_mac.h) stop a DB writer without the token from making
// records up; they cannot stop one from putting back an older GENUINE version of a
// record (a LOCKED subscriber rolled back to its CONTRACTED record, whose MAC is
// valid) or from deleting one. The trail can: every commit that writes a subscriber
// record carries the record's resulting fields as "record.*" details
// (SubscriberStateDetails), so replaying the trail gives, for each IMSI, what its
// record must be now and the audit record that says so.
//
// Checked for every subscriber: state, hotline, activation_tries_left, ki2_key_id,
// ki2_kcv, previous_ki2_key_id, msisdn (not the counters, which move without audit
// records; msisdn only where the trail states it: commits from before it was added
// do not);
// for every wrapped key: that a live subscriber names it and, for a current Ki_2,
// that its KCV is the one the trail gives. Records that fail their MAC are named too.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "storage/records.h"
#include "storage/store.h"

namespace simkms::storage {

// The "record.*" audit details describing r (appended by every subscriber commit).
std::vector<std::pair<std::string, std::string>> SubscriberStateDetails(const SubscriberRecord& r);
// The detail a commit that deletes the subscriber record adds.
inline constexpr char kRecordDeletedDetail[] = "record.deleted";

struct StateVerifyReport {
  bool ok = true;
  uint64_t audit_records_replayed = 0;
  uint64_t subscribers_checked = 0;
  uint64_t wrapped_keys_checked = 0;
  // One line per difference, e.g.
  // "001019876500001: state CONTRACTED, trail says LOCKED (record 215)".
  std::vector<std::string> differences;
  // What could not be checked (subscribers whose trail predates the record.* details).
  std::vector<std::string> notes;
};

// Replays the whole trail (not its MACs: VerifyAudit checks those) and compares every
// live subscriber and wrapped-key record with it. Non-OK only if a read fails.
StatusOr<StateVerifyReport> VerifyState(const Store& store);

}  // namespace simkms::storage
