#include "sc-engine/engine/record_json.h"

#include <cstdio>
#include <ctime>

#include "policy/lifecycle.h"
#include "storage/identifiers.h"

namespace simkms::sc {
namespace {

std::string IsoTime(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(((ms % 1000) + 1000) % 1000));
  return buf;
}

}  // namespace

RecordJson VerJson(const storage::VerRecord& v) {
  RecordJson j;
  j["ver"] = v.ver;
  j["profile"] = std::string(storage::KeyProfileName(v.profile));
  j["dh_group"] = std::string(storage::DhGroupName(v.dh_group));
  if (v.dh_group == storage::DhGroup::kCustom) {
    j["dh_p_bits"] = v.custom_p.size() * 8;
    j["dh_g"] = ToHex(v.custom_g);
  }
  j["amf"] = ToHex(v.amf);
  j["k1_kcv"] = ToHex(v.k1_kcv);
  j["activation_code"] = v.contracts_without_code ? "optional" : "required";
  if (v.rekey.enabled()) {
    j["rekey_policy"] = {{"max_ki2_age_seconds", v.rekey.max_ki2_age_seconds},
                         {"per_second", v.rekey.per_second},
                         {"per_day", v.rekey.per_day}};
  } else {
    j["rekey_policy"] = "none";
  }
  j["description"] = v.description;
  j["created_at"] = v.created_at;
  return j;
}

RecordJson RangeJson(const storage::RangeRecord& r) {
  RecordJson j;
  j["id"] = r.id;
  j["manufacturer"] = r.manufacturer;
  j["ver"] = r.ver;
  j["iccid_first"] = storage::FormatIccid(r.iccid_first);
  j["iccid_last"] = storage::FormatIccid(r.iccid_last());
  j["imsi_first"] = storage::FormatImsi(r.imsi_first);
  j["imsi_last"] = storage::FormatImsi(r.imsi_last());
  j["mnc_digits"] = r.mnc_digits;
  j["count"] = r.count;
  j["created_at"] = r.created_at;
  return j;
}

RecordJson SubscriberJson(const storage::SubscriberRecord& r) {
  RecordJson j;
  j["imsi"] = r.imsi;
  j["iccid"] = r.iccid;
  j["ver"] = r.ver;
  j["state"] = std::string(policy::StateName(r.state));
  j["hotline"] = r.hotline;
  j["order_id"] = r.order_id;
  if (r.msisdn.empty()) j["msisdn"] = nullptr;
  else j["msisdn"] = r.msisdn;
  j["activation_code"] = !r.activation_code_hash.empty();
  j["activation_tries_left"] = r.activation_tries_left;
  j["ki2_kcv"] = ToHex(r.ki2_kcv);
  j["created_at"] = r.created_at;
  j["updated_at"] = r.updated_at;
  return j;
}

RecordJson AuditRecordJson(const storage::AuditRecord& r) {
  RecordJson details = RecordJson::object();
  for (const auto& [k, v] : r.event.details) details[k] = v;
  RecordJson j;
  j["seq"] = r.seq;
  j["time"] = IsoTime(r.event.time_ms);
  j["actor"] = r.event.actor_role + ":" + r.event.actor_identity;
  j["event"] = r.event.event;
  j["subject"] = r.event.subject;
  j["details"] = std::move(details);
  return j;
}

RecordJson AuditVerifyJson(const storage::AuditVerifyReport& report) {
  RecordJson j;
  j["result"] = report.ok ? "OK" : "BROKEN";
  j["records_checked"] = report.records_checked;
  j["last_seq"] = report.last_seq;
  j["last_epoch"] = report.last_epoch;
  j["closed_epochs"] = report.closed_epochs.size();
  j["macs_unchecked"] = report.macs_unchecked;
  if (!report.ok) {
    if (report.first_bad_seq != 0) j["first_bad_seq"] = report.first_bad_seq;
    j["problem"] = report.problem;
  }
  j["notes"] = report.notes;
  return j;
}

RecordJson KcvJson(const kms::KeyKcvs& k) {
  RecordJson j;
  if (!k.mk.empty()) j["kcv.mk"] = ToHex(k.mk);
  j["kcv.storage_kek"] = ToHex(k.storage_kek);
  j["kcv.puk_key"] = ToHex(k.puk_encryption);
  j["kcv.op_key"] = ToHex(k.op_encryption);
  j["kcv.record_key"] = ToHex(k.record_mac);
  return j;
}

std::string DumpJson(const RecordJson& j, int indent) {
  return j.dump(indent, ' ', /*ensure_ascii=*/false, RecordJson::error_handler_t::replace);
}

}  // namespace simkms::sc
