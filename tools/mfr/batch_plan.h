// Which chips a pre-personalization run makes, checked against the K1 export:
// the export must be for this manufacturer and this VER, and the run's ICCIDs
// must lie inside one range the operator assigned to this manufacturer (the
// export lists exactly those ranges). Chip i of the run has ICCID start+i and
// the IMSI at the same position of the range (policy::ImsiForIccid, the
// appliance's own mapping, patent Fig. 1).
//
// Pure and thread-safe; errors name the refused value (ICCIDs, IMSIs, VERs and
// manufacturer names are identifiers, not secrets).
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "kms/k1_export.h"
#include "policy/numbering.h"

namespace simkms::mfr {

// One run makes at most this many chips (the run's bookkeeping is one byte per
// chip; a bigger order is several runs).
inline constexpr uint64_t kMaxChipsPerRun = 10'000'000;

struct BatchRequest {
  std::string manufacturer;  // who runs the tool; must be the export's recipient
  uint32_t ver = 0;          // the VER the manufacturer means to make
  std::string range_start;   // first ICCID of the run, 19 or 20 digits with the Luhn digit
  uint64_t count = 0;        // chips to make, >= 1
};

struct BatchPlan {
  std::string range_id;             // the export's range the run lies in
  policy::NumberRange range;        // that whole range, with its MNC length (the cards' EF_AD)
  uint64_t first_iccid_body = 0;    // first chip of the run (18- or 19-digit body)
  uint64_t count = 0;

  struct Numbers {
    std::string iccid;  // 19 or 20 digits
    std::string imsi;   // 15 digits
  };
  // ICCID and IMSI of chip `index` (0 <= index < count).
  StatusOr<Numbers> At(uint64_t index) const;
};

// InvalidArgument for a malformed request (count 0 or above kMaxChipsPerRun); PermissionDenied when the export is
// for another manufacturer or VER, or the run is not inside one of its ranges
// (including a count that runs past the range's end).
StatusOr<BatchPlan> PlanBatch(const kms::K1Export& file, const BatchRequest& request);

}  // namespace simkms::mfr
