#include "tools/mfr/batch_plan.h"

namespace simkms::mfr {

StatusOr<BatchPlan::Numbers> BatchPlan::At(uint64_t index) const {
  if (index >= count) return InvalidArgumentError("chip index " + std::to_string(index) + " is past the run");
  const uint64_t body = first_iccid_body + index;
  SIMKMS_ASSIGN_OR_RETURN(std::string iccid, policy::FormatIccid(body));
  SIMKMS_ASSIGN_OR_RETURN(policy::Imsi imsi, policy::ImsiForIccid(range, body));
  return Numbers{std::move(iccid), imsi.ToString()};
}

StatusOr<BatchPlan> PlanBatch(const kms::K1Export& file, const BatchRequest& request) {
  if (request.manufacturer.empty()) return InvalidArgumentError("manufacturer name is empty");
  if (request.count == 0) return InvalidArgumentError("count must be at least 1");
  if (request.count > kMaxChipsPerRun) {
    return InvalidArgumentError("count " + std::to_string(request.count) + " is above " +
                                std::to_string(kMaxChipsPerRun) + " chips per run; split the order into runs");
  }
  if (file.manufacturer != request.manufacturer) {
    return PermissionDeniedError("the K1 export is for manufacturer '" + file.manufacturer + "', not '" +
                                 request.manufacturer + "'");
  }
  if (file.ver != request.ver) {
    return PermissionDeniedError("the K1 export is for VER " + std::to_string(file.ver) + ", not VER " +
                                 std::to_string(request.ver));
  }
  auto start = policy::ParseIccid(request.range_start);
  if (!start.ok()) return start.status().WithContext("range start");

  for (const auto& r : file.ranges) {
    // With the range's own MNC length: it goes into every card's EF_AD.
    auto range = policy::ParseRangeSpec(r.iccid_first, r.imsi_first, r.mnc_digits, std::to_string(r.count));
    if (!range.ok()) return range.status().WithContext("K1 export range " + r.id);
    if (*start < range->iccid_body_first || *start > range->iccid_body_last()) continue;
    const uint64_t room = range->iccid_body_last() - *start + 1;
    if (request.count > room) {
      return PermissionDeniedError(std::to_string(request.count) + " chips from ICCID " + request.range_start +
                                   " run past the end of range " + r.id + " (" + std::to_string(room) +
                                   " left in it)");
    }
    BatchPlan plan;
    plan.range_id = r.id;
    plan.range = *range;
    plan.first_iccid_body = *start;
    plan.count = request.count;
    return plan;
  }
  return PermissionDeniedError("ICCID " + request.range_start + " is not in a range of VER " +
                               std::to_string(file.ver) + " assigned to " + file.manufacturer);
}

}  // namespace simkms::mfr
