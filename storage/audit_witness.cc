#include "storage/audit_witness.h"

#include <charconv>
#include <map>
#include <sstream>

namespace simkms::storage {
namespace {

constexpr std::string_view kMarker = "simkms-audit-epoch v=1 ";

bool ParseU64(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string FormatWitnessLine(const AuditEpochHead& head) {
  return std::string(kMarker) + "epoch=" + std::to_string(head.epoch) + " seq=" + std::to_string(head.seq) +
         " hash=" + ToHex(head.record_hash) + " mac=" + ToHex(head.mac);
}

WitnessLog ParseWitnessLog(const std::string& text) {
  WitnessLog log;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t at = line.find(kMarker);
    if (at == std::string::npos) continue;
    std::istringstream fields(line.substr(at + kMarker.size()));
    std::map<std::string, std::string> kv;
    std::string field;
    while (fields >> field) {
      const std::size_t eq = field.find('=');
      if (eq != std::string::npos) kv[field.substr(0, eq)] = field.substr(eq + 1);
    }
    AuditEpochHead h;
    auto hash = FromHex(kv["hash"]);
    auto mac = FromHex(kv["mac"]);
    if (!ParseU64(kv["epoch"], h.epoch) || !ParseU64(kv["seq"], h.seq) || !hash.ok() ||
        hash->size() != kAuditHashSize || !mac.ok() || mac->empty()) {
      ++log.malformed_lines;
      continue;
    }
    h.record_hash = std::move(hash).value();
    h.mac = std::move(mac).value();
    log.heads.push_back(std::move(h));
  }
  return log;
}

WitnessComparison CompareWithWitness(const std::vector<AuditEpochHead>& chain_closed, uint64_t chain_last_seq,
                                     const WitnessLog& witness) {
  WitnessComparison out;
  auto fail = [&](std::string p) {
    out.ok = false;
    out.problems.push_back(std::move(p));
  };
  std::map<uint64_t, const AuditEpochHead*> witnessed;
  for (const AuditEpochHead& h : witness.heads) {
    auto [it, inserted] = witnessed.emplace(h.epoch, &h);
    if (!inserted && !(*it->second == h)) {
      fail("the witness log holds two different heads for epoch " + std::to_string(h.epoch) +
           " (records " + std::to_string(it->second->seq) + " and " + std::to_string(h.seq) + ")");
    }
  }
  std::map<uint64_t, const AuditEpochHead*> chain;
  for (const AuditEpochHead& h : chain_closed) chain.emplace(h.epoch, &h);
  for (const auto& [epoch, w] : witnessed) {
    const std::string e = std::to_string(epoch);
    auto c = chain.find(epoch);
    if (c == chain.end()) {
      fail(w->seq > chain_last_seq
               ? "epoch " + e + " was witnessed closed at record " + std::to_string(w->seq) + " but the chain ends at " +
                     std::to_string(chain_last_seq) + ": tail truncated"
               : "epoch " + e + " was witnessed closed at record " + std::to_string(w->seq) +
                     " but the chain has no close of epoch " + e + ": the trail was rewritten");
      continue;
    }
    if (c->second->seq != w->seq || !ConstantTimeEquals(c->second->record_hash, w->record_hash) ||
        !ConstantTimeEquals(c->second->mac, w->mac)) {
      fail("epoch " + e + ": the witness saw its close at record " + std::to_string(w->seq) + " (hash " +
           ToHex(w->record_hash).substr(0, 16) + "...), the chain has it at record " +
           std::to_string(c->second->seq) + " (hash " + ToHex(c->second->record_hash).substr(0, 16) +
           "...): the trail was rewritten");
      continue;
    }
    ++out.epochs_matched;
  }
  uint64_t unwitnessed = 0;
  std::string first_unwitnessed;
  for (const auto& [epoch, h] : chain) {
    if (witnessed.count(epoch) == 0) {
      if (unwitnessed++ == 0) first_unwitnessed = std::to_string(epoch);
    }
  }
  if (unwitnessed > 0) {
    out.notes.push_back(std::to_string(unwitnessed) + " closed epochs (the first: " + first_unwitnessed +
                        ") are not in the witness log: the sender is behind or lost them; their records are checked "
                        "by the chain and the auditor's MACs only");
  }
  if (witness.malformed_lines > 0) {
    out.notes.push_back(std::to_string(witness.malformed_lines) + " witness lines carry the marker but do not parse");
  }
  return out;
}

}  // namespace simkms::storage
