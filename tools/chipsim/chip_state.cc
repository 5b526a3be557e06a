#include "tools/chipsim/chip_state.h"

#include <algorithm>

#include "kms/milenage.h"
#include "kms/software_aes.h"
#include "kms/software_keys.h"

namespace simkms::chip {
namespace {

StatusOr<SecretBytes> OpcFor(const SecretBytes& key, const SecretBytes& op) {
  if (op.size() != kOpSize) return InvalidArgumentError("OP must be 16 bytes, got " + std::to_string(op.size()));
  SIMKMS_ASSIGN_OR_RETURN(auto aes, kms::SoftwareAes128::Create(key));
  kms::Block op_block;
  std::copy(op.reveal().begin(), op.reveal().end(), op_block.begin());
  auto opc = kms::ComputeOpc(*aes, op_block);
  SecureWipe(op_block.data(), op_block.size());
  if (!opc.ok()) return opc.status().WithContext("OPc");
  SecretBytes out = SecretBytes::Copy(*opc);
  SecureWipe(opc->data(), opc->size());
  return out;
}

std::size_t K1Size(kms::Profile profile) { return profile == kms::Profile::kLegacy ? 8 : 16; }

Status ResetChvs(ChipState& state) {
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes pin, EncodePin(kDefaultPin));
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes puk, EncodePuk(kDefaultPuk));
  SIMKMS_ASSIGN_OR_RETURN(state.pin, Chv::Create(std::move(pin), kPinMaxTries, kPinMaxTries));
  SIMKMS_ASSIGN_OR_RETURN(state.puk, Chv::Create(std::move(puk), kPukMaxTries, kPukMaxTries));
  state.pin_enabled = true;
  return OkStatus();
}

}  // namespace

std::string_view ActiveKeyName(ActiveKey key) { return key == ActiveKey::kKi2 ? "Ki_2" : "Ki_1"; }

std::string ChipState::iccid() const {
  auto d = DecodeEfIccid(ef_iccid);
  return d.ok() ? *d : std::string();
}

std::string ChipState::imsi() const {
  auto d = DecodeEfImsi(ef_imsi);
  return d.ok() ? *d : std::string();
}

StatusOr<ChipState> PrePersonalize(std::string_view iccid, std::string_view imsi, uint32_t ver,
                                   kms::Profile profile, const SecretBytes& k1, const DhGroupSpec& dh_group,
                                   const SecretBytes& op) {
  ChipState s;
  SIMKMS_ASSIGN_OR_RETURN(s.ef_iccid, EncodeEfIccid(iccid));
  SIMKMS_ASSIGN_OR_RETURN(s.ef_imsi, EncodeEfImsi(imsi));
  s.ver = ver;
  s.profile = profile;
  if (k1.size() != K1Size(profile)) {
    return InvalidArgumentError(std::string(kms::ProfileName(profile)) + " K1 must be " +
                                std::to_string(K1Size(profile)) + " bytes, got " + std::to_string(k1.size()));
  }
  if (dh_group.kind == kms::DhGroupKind::kCustom) {
    if (dh_group.p.empty() || dh_group.g.empty()) return InvalidArgumentError("custom DH group needs p and g");
  } else if (!dh_group.p.empty() || !dh_group.g.empty()) {
    return InvalidArgumentError("p and g are given only for a custom DH group");
  }
  s.k1 = k1;
  s.dh_group = dh_group;
  // The patent: "the chip itself derives from a key K1 ... an initial key Ki_1".
  auto ki1 = kms::SoftwareDeriveKi1(profile, k1, imsi);
  if (!ki1.ok()) return ki1.status().WithContext("deriving Ki_1");
  s.ki1 = std::move(*ki1);
  s.active_key = ActiveKey::kKi1;
  s.op = op;
  SIMKMS_ASSIGN_OR_RETURN(s.opc, OpcFor(s.ki1, op));
  SIMKMS_RETURN_IF_ERROR(ResetChvs(s));
  return s;
}

Status Validate(const ChipState& s) {
  auto iccid = DecodeEfIccid(s.ef_iccid);
  if (!iccid.ok()) return iccid.status();
  auto imsi = DecodeEfImsi(s.ef_imsi);
  if (!imsi.ok()) return imsi.status();
  if (s.k1.size() != K1Size(s.profile)) return DataLossError("K1 size does not match the profile");
  auto ki1 = kms::SoftwareDeriveKi1(s.profile, s.k1, *imsi);
  if (!ki1.ok()) return DataLossError("cannot derive Ki_1: " + ki1.status().message());
  if (!ki1->Equals(s.ki1)) return DataLossError("Ki_1 does not match K1 and the IMSI");
  if (!s.ki2.empty() && s.ki2.size() != kKiSize) return DataLossError("Ki_2 slot holds a key that is not 16 bytes");
  if (s.active_key == ActiveKey::kKi2 && s.ki2.empty()) return DataLossError("Ki_2 is active but its slot is empty");
  if (s.op.size() != kOpSize) return DataLossError("OP must be 16 bytes");
  auto opc = OpcFor(s.active(), s.op);
  if (!opc.ok()) return DataLossError("cannot compute OPc: " + opc.status().message());
  if (!opc->Equals(s.opc)) return DataLossError("OPc does not match OP and the active key");
  if (s.pending) {
    if (s.pending->ki2.size() != kKiSize || s.pending->k_confirm.size() != kKiSize) {
      return DataLossError("pending key: Ki_2 and K_confirm must be 16 bytes");
    }
    // Committing it stores the PUK (InstallKi2): it must be one.
    if (!s.pending->puk.empty() && !EncodePuk(std::string_view(reinterpret_cast<const char*>(s.pending->puk.reveal().data()),
                                                               s.pending->puk.size()))
                                        .ok()) {
      return DataLossError("pending key: the PUK must be 8 digits or empty");
    }
  }
  if (s.ota.in > kOtaCounterMax || s.ota.out > kOtaCounterMax) return DataLossError("OTA counter exceeds 5 bytes");
  if (s.pin.max_tries() != kPinMaxTries || s.puk.max_tries() != kPukMaxTries) {
    return DataLossError("CHV retry limits must be 3 (PIN) and 10 (PUK)");
  }
  if (s.dh_group.kind == kms::DhGroupKind::kCustom && (s.dh_group.p.empty() || s.dh_group.g.empty())) {
    return DataLossError("custom DH group without p and g");
  }
  return OkStatus();
}

Status ResetPersonalization(ChipState& s) {
  s.ki2 = SecretBytes();
  s.pending.reset();
  s.active_key = ActiveKey::kKi1;
  SIMKMS_ASSIGN_OR_RETURN(s.opc, OpcFor(s.ki1, s.op));
  SIMKMS_RETURN_IF_ERROR(ResetChvs(s));
  s.sqn.Clear();
  // The OTA counters stay: the SC answers a new contract above what this chip
  // last accepted, and refuses a counter that is not higher than the last it
  // saw from the chip (docs/protocol.md §2); zeroed counters would make every
  // packet of the reused chip a replay.
  return OkStatus();
}

Status InstallKi2(ChipState& s, const SecretBytes& ki2, std::string_view puk) {
  if (ki2.size() != kKiSize) return InvalidArgumentError("Ki_2 must be 16 bytes, got " + std::to_string(ki2.size()));
  std::optional<SecretBytes> puk_block;
  if (!puk.empty()) {
    auto encoded = EncodePuk(puk);
    if (!encoded.ok()) return encoded.status().WithContext("new PUK");
    puk_block = std::move(*encoded);
  }
  // Compute everything that can fail before changing anything.
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes opc, OpcFor(ki2, s.op));
  s.ki2 = ki2;
  s.active_key = ActiveKey::kKi2;
  s.opc = std::move(opc);
  s.pending.reset();
  s.sqn.Clear();
  if (puk_block) s.puk.Set(std::move(*puk_block));
  return OkStatus();
}

StatusOr<KeyCheckValues> ComputeKcvs(const ChipState& s) {
  KeyCheckValues k;
  if (s.k1.size() == 8) {
    SIMKMS_ASSIGN_OR_RETURN(k.k1, kms::SoftwareDesKcv(s.k1));
  } else {
    SIMKMS_ASSIGN_OR_RETURN(k.k1, kms::SoftwareAesKcv(s.k1));
  }
  SIMKMS_ASSIGN_OR_RETURN(k.ki1, kms::SoftwareAesKcv(s.ki1));
  if (!s.ki2.empty()) {
    SIMKMS_ASSIGN_OR_RETURN(k.ki2, kms::SoftwareAesKcv(s.ki2));
  }
  k.active = s.active_key == ActiveKey::kKi2 ? k.ki2 : k.ki1;
  return k;
}

}  // namespace simkms::chip
