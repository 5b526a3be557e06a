// Runs osmo-auc-gen (package libosmocore-utils), an independent implementation
// of Milenage, and parses its output, for the tests that cross-check our vectors
// (software and in-token).
//
// osmo-auc-gen -3 -a MILENAGE -k K {-o OPC | -O OP} -r RAND -s SQN -f AMF
// prints "NAME:\tvalue" lines. Semantics observed with libosmocore 1.7.0:
//  - AMF is -f (there is no -m); without -f AMF is 0000.
//  - -s SQN (decimal, strtoull base 0) ends up exactly as the SQN in AUTN: the tool
//    passes SQN - 2^ind_len and IND = SQN mod 32 and lets the library increment.
//    Without -s it uses SQN 32. Callers stay in [32, 2^48 - 1].
//  - -A AUTS (with -r RAND, no -s) verifies AUTS against that RAND, prints the
//    recovered SQN as "SQN.MS:", and exits 1 with "AUTS from MS seems incorrect" on a
//    bad MAC-S.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace simkms::testing {

// The tool on PATH, or nullopt (tests then GTEST_SKIP).
std::optional<std::filesystem::path> FindOsmoAucGen();

struct OsmoAucGenResult {
  int exit_code = -1;
  std::map<std::string, std::string> fields;  // "AUTN" -> "hex", "SQN" -> "decimal", ...
  std::string output;                         // stdout then stderr, for messages
};

// args: space-separated arguments (hex and decimal strings the test generated).
// Runs the tool directly (no shell) in its own process and waits for it.
OsmoAucGenResult RunOsmoAucGen(const std::filesystem::path& tool, const std::string& args);

}  // namespace simkms::testing
