// The manufacturer's output file for the operator: which chips were made.
// CSV (RFC 4180, LF line ends), a header line and one line per chip in ICCID
// order:
//
//   iccid,imsi,ver
//   8949001234567890128,001019876500000,2
//
// Identifiers only: no key, no key check value (docs/manufacturer.md says why).
#pragma once

#include <filesystem>

#include "base/status.h"
#include "tools/mfr/batch_plan.h"

namespace simkms::mfr {

inline constexpr char kOutputHeader[] = "iccid,imsi,ver";

// AlreadyExists if `path` exists (whatever it is), NotFound if its directory
// does not, so a run can refuse before it does any work.
Status CheckOutputAbsent(const std::filesystem::path& path);

// Writes the file for `plan` (mode 0644: it holds no secret), durably and
// atomically, and never over an existing file: a temporary file in the same
// directory, fsync, link(2) to `path` (fails if `path` appeared meanwhile), the
// directory fsync'ed.
Status WriteOutputFile(const std::filesystem::path& path, const BatchPlan& plan, uint32_t ver);

}  // namespace simkms::mfr
