#include "tools/chipsim/chip_state.h"

#include <algorithm>

#include "softcrypto/software_keys.h"

namespace simkms::chip {
namespace {

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

StatusOr<MncLength> MncLengthOf(int digits) {
  if (digits == 2) return MncLength::kTwo;
  if (digits == 3) return MncLength::kThree;
  return InvalidArgumentError("MNC length must be 2 or 3 digits, got " + std::to_string(digits));
}

StatusOr<ChipState> PrePersonalize(std::string_view iccid, std::string_view imsi, MncLength mnc_length, uint32_t ver,
                                   kms::Profile profile, const SecretBytes& k1, const DhGroupSpec& dh_group,
                                   const SecretBytes& op) {
  ChipState s;
  SIMKMS_ASSIGN_OR_RETURN(s.ef_iccid, EncodeEfIccid(iccid));
  SIMKMS_ASSIGN_OR_RETURN(s.ef_imsi, EncodeEfImsi(imsi));
  SIMKMS_RETURN_IF_ERROR(MncLengthOf(static_cast<int>(mnc_length)).status());
  s.mnc_length = mnc_length;
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
  s.dh_group = dh_group;
  // The patent: "the chip itself derives from a key K1 ... an initial key Ki_1".
  // K1 and OP are then forgotten (docs/protocol.md §2, deviation from the
  // patent): the card keeps what serves this card only.
  auto ki1 = kms::SoftwareDeriveKi1(profile, k1, imsi);
  if (!ki1.ok()) return ki1.status().WithContext("deriving Ki_1");
  s.ki1 = std::move(*ki1);
  s.active_key = ActiveKey::kKi1;
  SIMKMS_ASSIGN_OR_RETURN(s.ki1_opc, kms::SoftwareOpc(s.ki1, op));
  SIMKMS_RETURN_IF_ERROR(ResetChvs(s));
  return s;
}

Status Validate(const ChipState& s) {
  auto iccid = DecodeEfIccid(s.ef_iccid);
  if (!iccid.ok()) return iccid.status();
  auto imsi = DecodeEfImsi(s.ef_imsi);
  if (!imsi.ok()) return imsi.status();
  if (s.ki1.size() != kKiSize || s.ki1_opc.size() != kOpSize) {
    return DataLossError("Ki_1 and its OPc must be 16 bytes each");
  }
  if (!s.ki2.empty() && s.ki2.size() != kKiSize) return DataLossError("Ki_2 slot holds a key that is not 16 bytes");
  if (s.ki2_opc.size() != (s.ki2.empty() ? 0 : kOpSize)) {
    return DataLossError("the OPc of Ki_2 must be 16 bytes with a Ki_2, empty without one");
  }
  if (s.active_key == ActiveKey::kKi2 && s.ki2.empty()) return DataLossError("Ki_2 is active but its slot is empty");
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
  if (!MncLengthOf(static_cast<int>(s.mnc_length)).ok()) return DataLossError("MNC length must be 2 or 3 digits");
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
  s.ki2_opc = SecretBytes();
  s.pending.reset();
  // The kept Ki_1 and its OPc: no K1 or OP is needed (or present) to restore them.
  s.active_key = ActiveKey::kKi1;
  SIMKMS_RETURN_IF_ERROR(ResetChvs(s));
  s.sqn.Clear();
  s.terminal_writes.clear();  // the last user's LOCI, cipher keys and number
  // The OTA counters stay: the SC answers a new contract above what this chip
  // last accepted, and refuses a counter that is not higher than the last it
  // saw from the chip (docs/protocol.md §2); zeroed counters would make every
  // packet of the reused chip a replay.
  return OkStatus();
}

Status InstallKi2(ChipState& s, const SecretBytes& ki2, const SecretBytes& opc, std::string_view puk) {
  if (ki2.size() != kKiSize) return InvalidArgumentError("Ki_2 must be 16 bytes, got " + std::to_string(ki2.size()));
  if (opc.size() != kOpSize) {
    return InvalidArgumentError("the OPc of Ki_2 must be 16 bytes, got " + std::to_string(opc.size()));
  }
  std::optional<SecretBytes> puk_block;
  if (!puk.empty()) {
    auto encoded = EncodePuk(puk);
    if (!encoded.ok()) return encoded.status().WithContext("new PUK");
    puk_block = std::move(*encoded);
  }
  s.ki2 = ki2;
  s.ki2_opc = opc;
  s.active_key = ActiveKey::kKi2;
  s.pending.reset();
  s.sqn.Clear();
  if (puk_block) s.puk.Set(std::move(*puk_block));
  return OkStatus();
}

StatusOr<KeyCheckValues> ComputeKcvs(const ChipState& s) {
  KeyCheckValues k;
  SIMKMS_ASSIGN_OR_RETURN(k.ki1, kms::SoftwareAesKcv(s.ki1));
  if (!s.ki2.empty()) {
    SIMKMS_ASSIGN_OR_RETURN(k.ki2, kms::SoftwareAesKcv(s.ki2));
  }
  k.active = s.active_key == ActiveKey::kKi2 ? k.ki2 : k.ki1;
  return k;
}

}  // namespace simkms::chip
