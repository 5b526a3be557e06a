#include "tools/bench/chip_population.h"

#include <fstream>
#include <sstream>

#include "kms/k1_export.h"
#include "softcrypto/software_keys.h"

namespace simkms::bench {
namespace {

StatusOr<std::string> Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

StatusOr<std::string> ImsiAt(const std::string& first, std::size_t offset) {
  if (first.size() < 6 || first.size() > 15 || first.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgumentError("IMSI must be 6..15 digits: " + first);
  }
  uint64_t value = std::stoull(first) + offset;
  std::string s = std::to_string(value);
  if (s.size() > first.size()) return InvalidArgumentError("IMSI range overflows its digits");
  return std::string(first.size() - s.size(), '0') + s;
}

StatusOr<std::vector<protocol::ChipProtocolState>> MakeChips(const PopulationSpec& spec) {
  SIMKMS_ASSIGN_OR_RETURN(std::string json, Slurp(spec.k1_export_path));
  SIMKMS_ASSIGN_OR_RETURN(std::string pem, Slurp(spec.mfr_key_path));
  SIMKMS_ASSIGN_OR_RETURN(kms::K1Export file, kms::K1Export::FromJson(json));
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes k1, kms::UnwrapK1Export(file, pem));
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes op, kms::UnwrapOpFromExport(file, pem));
  if (!file.dh_group.empty() && file.dh_group != kms::DhGroupKindName(spec.group)) {
    return InvalidArgumentError("the K1 export's VER uses " + file.dh_group + ", not " +
                                std::string(kms::DhGroupKindName(spec.group)));
  }
  SIMKMS_ASSIGN_OR_RETURN(protocol::DhGroup group, protocol::DhGroup::Named(spec.group));
  std::vector<protocol::ChipProtocolState> chips;
  chips.reserve(spec.count);
  for (std::size_t i = 0; i < spec.count; ++i) {
    protocol::ChipProtocolState chip;
    SIMKMS_ASSIGN_OR_RETURN(chip.imsi, ImsiAt(spec.imsi_first, i));
    chip.ver = file.ver;
    chip.group = group;
    SIMKMS_ASSIGN_OR_RETURN(chip.base_key, kms::SoftwareDeriveKi1(file.profile, k1, chip.imsi));
    // The card keeps Ki_1's OPc, not OP (docs/manufacturer.md).
    SIMKMS_ASSIGN_OR_RETURN(chip.opc, kms::SoftwareOpc(chip.base_key, op));
    chips.push_back(std::move(chip));
  }
  return chips;
}

}  // namespace simkms::bench
