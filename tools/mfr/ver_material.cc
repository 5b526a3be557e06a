#include "tools/mfr/ver_material.h"

#include "softcrypto/dh_group.h"

namespace simkms::mfr {

StatusOr<VerMaterial> OpenK1Export(const kms::K1Export& file, const std::string& private_key_pem) {
  VerMaterial m;
  m.ver = file.ver;
  m.profile = file.profile;
  m.k1_kcv = file.kcv;
  SIMKMS_ASSIGN_OR_RETURN(m.dh_group.kind, kms::ParseDhGroupKind(file.dh_group));
  if (m.dh_group.kind == kms::DhGroupKind::kCustom) {
    auto valid = kms::ValidateCustomGroup(file.dh_p, file.dh_g);
    if (!valid.ok()) return valid.WithContext("the export's custom DH group");
    m.dh_group.p = file.dh_p;
    m.dh_group.g = file.dh_g;
  }
  SIMKMS_ASSIGN_OR_RETURN(m.k1, kms::UnwrapK1Export(file, private_key_pem));
  SIMKMS_ASSIGN_OR_RETURN(m.op, kms::UnwrapOpFromExport(file, private_key_pem));
  return m;
}

}  // namespace simkms::mfr
