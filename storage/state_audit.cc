#include "storage/state_audit.h"

#include <map>
#include <optional>
#include <set>

namespace simkms::storage {

namespace {

constexpr std::size_t kAuditPage = 4096;

// The record.* fields of one subscriber as the trail last stated them.
struct Expected {
  uint64_t seq = 0;  // the audit record that said so
  bool deleted = false;
  std::map<std::string, std::string> fields;  // "state" -> "LOCKED", ...
};

std::string Field(const std::map<std::string, std::string>& fields, const std::string& name) {
  auto it = fields.find(name);
  return it == fields.end() ? std::string() : it->second;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> SubscriberStateDetails(const SubscriberRecord& r) {
  return {{"record.state", std::string(SubscriberStateName(r.state))},
          {"record.hotline", r.hotline ? "yes" : "no"},
          {"record.activation_tries_left", std::to_string(r.activation_tries_left)},
          {"record.ki2_key_id", r.ki2_key_id},
          {"record.ki2_kcv", ToHex(r.ki2_kcv)},
          {"record.previous_ki2_key_id", r.previous_ki2_key_id},
          {"record.msisdn", r.msisdn}};
}

namespace {
// Details added after the trail's first records: a statement without one says
// nothing about that field (the audit record is MAC'd, so its absence is genuine).
bool StatedSinceTheBeginning(const std::string& field) { return field != "msisdn"; }
}  // namespace

StatusOr<StateVerifyReport> VerifyState(const Store& store) {
  StateVerifyReport report;
  // Replay: the last statement about each IMSI wins; IMSIs the trail mentions without
  // record.* details (commits from before they were added) are remembered as such.
  std::map<std::string, Expected> expected;
  std::map<std::string, uint64_t> unstated;  // IMSI -> last seq about it without details
  for (uint64_t from = 1;;) {
    SIMKMS_ASSIGN_OR_RETURN(std::vector<AuditRecord> page, store.ReadAudit(from, kAuditPage));
    for (const AuditRecord& rec : page) {
      ++report.audit_records_replayed;
      const std::string& subject = rec.event.subject;
      const std::string imsi = subject.substr(0, subject.find('/'));
      Expected e;
      e.seq = rec.seq;
      for (const auto& [key, value] : rec.event.details) {
        if (key == kRecordDeletedDetail) e.deleted = true;
        if (key.starts_with("record.")) e.fields[key.substr(7)] = value;
      }
      if (e.fields.count("state") != 0) {
        expected[imsi] = std::move(e);
        unstated.erase(imsi);
      } else if (subject.size() >= 15 && expected.count(imsi) == 0 && rec.event.event.starts_with("subscriber.")) {
        unstated[imsi] = rec.seq;
      }
    }
    if (page.size() < kAuditPage) break;
    from = page.back().seq + 1;
  }

  auto differ = [&](const std::string& line) {
    report.ok = false;
    report.differences.push_back(line);
  };
  // Key ids the live subscribers name, with the KCV the trail gives a current one.
  std::map<std::string, std::optional<std::string>> named_keys;
  std::set<std::string> live;
  SIMKMS_RETURN_IF_ERROR(store.ScanSubscribers([&](std::string_view key, const StatusOr<SubscriberRecord>& r) {
    const std::string imsi(key);
    live.insert(imsi);
    ++report.subscribers_checked;
    if (!r.ok()) return differ(imsi + ": " + r.status().message());
    auto it = expected.find(imsi);
    if (it == expected.end() || it->second.deleted) {
      if (auto u = unstated.find(imsi); u != unstated.end() && it == expected.end()) {
        report.notes.push_back(imsi + ": not checked, its trail (record " + std::to_string(u->second) +
                               ") predates the record.* details");
        if (!r->ki2_key_id.empty()) named_keys[r->ki2_key_id] = std::nullopt;
        if (!r->previous_ki2_key_id.empty()) named_keys[r->previous_ki2_key_id] = std::nullopt;
        return;
      }
      return differ(imsi + ": record present (state " + std::string(SubscriberStateName(r->state)) +
                    "), trail says " +
                    (it == expected.end() ? std::string("no such subscriber")
                                          : "terminated (record " + std::to_string(it->second.seq) + ")"));
    }
    const Expected& e = it->second;
    const std::string at = " (record " + std::to_string(e.seq) + ")";
    for (const auto& [name, value] : SubscriberStateDetails(*r)) {
      const std::string field = name.substr(7);
      if (!StatedSinceTheBeginning(field) && e.fields.count(field) == 0) continue;
      const std::string want = Field(e.fields, field);
      if (value != want) {
        differ(imsi + ": " + field + " " + (value.empty() ? "(empty)" : value) + ", trail says " +
               (want.empty() ? "(empty)" : want) + at);
      }
    }
    const std::string key_id = Field(e.fields, "ki2_key_id");
    if (!key_id.empty()) named_keys[key_id] = Field(e.fields, "ki2_kcv");
    const std::string previous = Field(e.fields, "previous_ki2_key_id");
    if (!previous.empty() && named_keys.count(previous) == 0) named_keys[previous] = std::nullopt;
  }));
  for (const auto& [imsi, e] : expected) {
    if (!e.deleted && live.count(imsi) == 0) {
      differ(imsi + ": no record, trail says " + Field(e.fields, "state") + " (record " + std::to_string(e.seq) + ")");
    }
  }

  std::set<std::string> seen_keys;
  SIMKMS_RETURN_IF_ERROR(store.ScanWrappedKeys([&](std::string_view key, const StatusOr<WrappedKeyRecord>& r) {
    const std::string key_id(key);
    seen_keys.insert(key_id);
    ++report.wrapped_keys_checked;
    if (!r.ok()) return differ("wrapped key " + key_id + ": " + r.status().message());
    auto it = named_keys.find(key_id);
    if (it == named_keys.end()) return differ("wrapped key " + key_id + ": no live subscriber names it");
    if (it->second && ToHex(r->kcv) != *it->second) {
      differ("wrapped key " + key_id + ": kcv " + ToHex(r->kcv) + ", trail says " + *it->second);
    }
  }));
  for (const auto& [key_id, kcv] : named_keys) {
    if (seen_keys.count(key_id) == 0) differ("wrapped key " + key_id + ": missing, a live subscriber names it");
  }
  return report;
}

}  // namespace simkms::storage
