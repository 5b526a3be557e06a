// The external witness of closed audit epochs: the line kmsd sends (RFC 5424 syslog
// MSG) for each closed epoch, and the comparison of a witness log with a chain.
//
// Line: "simkms-audit-epoch v=1 epoch=<e> seq=<s> hash=<64 hex> mac=<hex>", where seq,
// hash and mac are those of epoch e's close record. The parser looks for that marker
// anywhere in a log line, so any receiver's file format (rsyslog templates, journald
// exports) can be read as long as the MSG is kept verbatim.
//
// What the comparison shows: a closed epoch whose witnessed head differs from the
// chain's (a rewritten trail), a witnessed close the chain lacks (records removed or
// the tail truncated), and two different heads witnessed for one epoch (the log
// itself is suspect). A closed epoch not in the witness log is a note only: the sender
// may be behind, or lost its queue when kmsd stopped (docs/operations.md).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "storage/audit.h"

namespace simkms::storage {

std::string FormatWitnessLine(const AuditEpochHead& head);

struct WitnessLog {
  std::vector<AuditEpochHead> heads;  // in log order, duplicates kept
  uint64_t malformed_lines = 0;       // lines with the marker that did not parse
};
WitnessLog ParseWitnessLog(const std::string& text);

struct WitnessComparison {
  bool ok = true;
  uint64_t epochs_matched = 0;
  std::vector<std::string> problems;
  std::vector<std::string> notes;
};
// `chain_closed` is AuditVerifyReport::closed_epochs of a walk that completed.
WitnessComparison CompareWithWitness(const std::vector<AuditEpochHead>& chain_closed, uint64_t chain_last_seq,
                                     const WitnessLog& witness);

}  // namespace simkms::storage
