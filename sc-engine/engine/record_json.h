// The one JSON form of each record an administrator or operator reads: the
// admin commands (admin_commands.h) answer with it, kmsctl prints it (as JSON
// with --json, and as a table or "key: value" lines derived from it), and the
// operator API returns it. One mapping, so that kmsctl offline, kmsctl through
// kmsd's admin socket and the API cannot drift apart.
//
// Only identifiers, counts, KCVs and public parameters appear: never a key, an
// OP or an activation code (a subscriber's says only whether one is set).
// Numbers stay numbers; byte strings are lower-case hex.
//
// Audit records are stored as their own bytes (storage/audit.h); this is only
// their printed form, not what the chain's MACs cover.
#pragma once

#include <nlohmann/json.hpp>

#include "kms/ceremony.h"
#include "storage/audit.h"
#include "storage/records.h"

namespace simkms::sc {

using RecordJson = nlohmann::ordered_json;

// ver, profile, dh_group (custom: dh_p_bits, dh_g), amf, k1_kcv, activation_code,
// description, created_at.
RecordJson VerJson(const storage::VerRecord& v);
// id, manufacturer, ver, iccid_first, iccid_last, imsi_first, imsi_last, count, created_at.
RecordJson RangeJson(const storage::RangeRecord& r);
// imsi, iccid, ver, state, hotline, order_id, msisdn (null when none), activation_code
// (whether one is set), activation_tries_left, ki2_kcv, created_at, updated_at.
RecordJson SubscriberJson(const storage::SubscriberRecord& r);
// seq, time (UTC, ISO 8601 with milliseconds), actor ("role:identity"), event,
// subject, details (an object).
RecordJson AuditRecordJson(const storage::AuditRecord& r);
// result ("OK" or "BROKEN"), records_checked, last_seq, last_epoch, closed_epochs,
// macs_unchecked; when broken first_bad_seq and problem; notes (a list).
RecordJson AuditVerifyJson(const storage::AuditVerifyReport& report);
// kcv.storage_kek, kcv.puk_key, kcv.op_key, kcv.record_key (kcv.mk when the caller read MK's,
// with the ceremony token: kmsd never has it).
RecordJson KcvJson(const kms::KeyKcvs& kcvs);

// Serialises for a peer or a terminal without throwing: a byte that is not
// UTF-8 (possible in a record written before free text was checked) becomes
// U+FFFD instead of nlohmann's type_error. `indent` as nlohmann's dump.
std::string DumpJson(const RecordJson& j, int indent = -1);

}  // namespace simkms::sc
