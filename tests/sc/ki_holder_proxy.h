// A man in the middle of a first call who holds Ki_1 (a leaked K1, or one
// extracted card of the same VER: issue 10, finding 1), for the protocol-level
// tests (tests/sc) and the ones against the real kmsd (tests/e2e). It opens and
// re-seals every packet, so the CC stops nothing; what it lacks is the
// activation code. It puts its own DH share in place of each side's, searches
// the code offline on the chip's CONFIRM, and answers the SC with whatever code
// it found, or a guess.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kms/milenage.h"
#include "kms/software_aes.h"
#include "sc-engine/protocol/chip_role.h"
#include "sc-engine/protocol/secured_packet.h"

namespace simkms::testing {

class KiHolderProxy {
 public:
  // ki1 and its OPc (OPc_1), as the chip's image gives them (or K1 and OP, from
  // which both follow).
  static StatusOr<KiHolderProxy> Create(std::string imsi, const SecretBytes& ki1, const protocol::DhGroup& group,
                                        const SecretBytes& opc) {
    SIMKMS_ASSIGN_OR_RETURN(protocol::OtaCiphers ota, protocol::DeriveOtaCiphers(ki1));
    return KiHolderProxy(std::move(imsi), std::move(ota), group, SecretBytes::Copy(opc.reveal()));
  }

  // The chip's HELLO, with the proxy's share in place of the chip's, for the SC.
  StatusOr<Bytes> ForgeHello(ByteView packet) {
    SIMKMS_ASSIGN_OR_RETURN(protocol::OpenedPacket opened, protocol::OpenPacket(ota_.up, packet, 0));
    SIMKMS_ASSIGN_OR_RETURN(protocol::Message message, protocol::Decode(opened.message));
    if (!std::holds_alternative<protocol::Hello>(message)) return InvalidArgumentError("not a HELLO");
    hello_ = std::get<protocol::Hello>(message);
    hello_counter_ = opened.counter;
    chip_share_ = hello_.y_c;
    SIMKMS_ASSIGN_OR_RETURN(protocol::EphemeralKey own, protocol::EphemeralKey::Generate(group_));
    toward_sc_.emplace(std::move(own));
    protocol::Hello forged = hello_;
    forged.y_c = toward_sc_->public_value();
    return protocol::SealPacket(ota_.up, protocol::kKeyVersionKi1, hello_counter_, protocol::Encode(forged));
  }

  // The SC's CHALLENGE, with the proxy's share in place of the SC's, for the chip.
  StatusOr<Bytes> ForgeChallenge(ByteView packet) {
    SIMKMS_ASSIGN_OR_RETURN(protocol::OpenedPacket opened, protocol::OpenPacket(ota_.down, packet, 0));
    SIMKMS_ASSIGN_OR_RETURN(protocol::Message message, protocol::Decode(opened.message));
    if (!std::holds_alternative<protocol::Challenge>(message)) return InvalidArgumentError("not a CHALLENGE");
    challenge_ = std::get<protocol::Challenge>(message);
    challenge_counter_ = opened.counter;
    sc_share_ = challenge_.y_s;
    SIMKMS_ASSIGN_OR_RETURN(protocol::EphemeralKey own, protocol::EphemeralKey::Generate(group_));
    toward_chip_.emplace(std::move(own));
    protocol::Challenge forged = challenge_;
    forged.y_s = toward_chip_->public_value();
    return protocol::SealPacket(ota_.down, protocol::kKeyVersionKi1, challenge_counter_, protocol::Encode(forged));
  }

  // The offline search: every candidate code whose proof matches the chip's
  // CONFIRM, under the key the proxy shares with the chip as far as the proxy can
  // compute it (Z = Y_c^b for its own b: all a holder of b and the record has).
  StatusOr<std::vector<std::string>> SearchCode(ByteView confirm_packet, const std::vector<std::string>& candidates) {
    SIMKMS_ASSIGN_OR_RETURN(protocol::OpenedPacket opened, protocol::OpenPacket(ota_.up, confirm_packet, hello_counter_));
    confirm_counter_ = opened.counter;
    SIMKMS_ASSIGN_OR_RETURN(protocol::Message message, protocol::Decode(opened.message));
    if (!std::holds_alternative<protocol::Confirm>(message)) return InvalidArgumentError("not a CONFIRM");
    const protocol::Confirm confirm = std::get<protocol::Confirm>(message);
    if (!confirm.activation_proof) return InvalidArgumentError("CONFIRM without an activation proof");
    SIMKMS_ASSIGN_OR_RETURN(SecretBytes z, toward_chip_->SharedSecret(chip_share_));
    SIMKMS_ASSIGN_OR_RETURN(protocol::TranscriptHash t, Transcript(chip_share_, toward_chip_->public_value()));
    SIMKMS_ASSIGN_OR_RETURN(protocol::SessionSecrets secrets, protocol::DeriveSessionSecrets(z, t));
    std::vector<std::string> found;
    for (const std::string& code : candidates) {
      SIMKMS_ASSIGN_OR_RETURN(SecretBytes verifier, protocol::ActivationVerifier(imsi_, code));
      SIMKMS_ASSIGN_OR_RETURN(protocol::ShortMac proof,
                              protocol::ShortCmac(secrets.k_activate, protocol::ActivationMacInput(t, verifier)));
      if (proof == *confirm.activation_proof) found.push_back(code);
    }
    return found;
  }

  // A CONFIRM for the SC, under the key the proxy shares with the SC, proving `code`.
  StatusOr<Bytes> ForgeConfirm(const std::string& code) {
    SIMKMS_ASSIGN_OR_RETURN(SecretBytes z, toward_sc_->SharedSecret(sc_share_));
    SIMKMS_ASSIGN_OR_RETURN(protocol::TranscriptHash t, Transcript(toward_sc_->public_value(), sc_share_));
    SIMKMS_ASSIGN_OR_RETURN(protocol::SessionSecrets secrets, protocol::DeriveSessionSecrets(z, t));
    protocol::Confirm confirm;
    confirm.session_id = challenge_.session_id;
    SIMKMS_ASSIGN_OR_RETURN(confirm.res, Res(secrets.ki2));
    SIMKMS_ASSIGN_OR_RETURN(SecretBytes verifier, protocol::ActivationVerifier(imsi_, code));
    SIMKMS_ASSIGN_OR_RETURN(confirm.activation_proof,
                            protocol::ShortCmac(secrets.k_activate, protocol::ActivationMacInput(t, verifier)));
    return protocol::SealPacket(ota_.up, protocol::kKeyVersionKi1, confirm_counter_, protocol::Encode(confirm));
  }

  // Opens an SC packet that answers the forged CONFIRM (an ERROR or a COMMIT).
  StatusOr<protocol::Message> OpenAnswer(ByteView packet) {
    SIMKMS_ASSIGN_OR_RETURN(protocol::OpenedPacket opened, protocol::OpenPacket(ota_.down, packet, challenge_counter_));
    return protocol::Decode(opened.message);
  }

 private:
  KiHolderProxy(std::string imsi, protocol::OtaCiphers ota, const protocol::DhGroup& group, SecretBytes opc)
      : imsi_(std::move(imsi)), ota_(std::move(ota)), group_(group), opc_(std::move(opc)) {}

  StatusOr<protocol::TranscriptHash> Transcript(ByteView y_c, ByteView y_s) const {
    protocol::Transcript t;
    t.kind = protocol::SessionKind::kFirstCall;
    t.imsi = imsi_;
    t.ver = hello_.ver;
    t.nonce_c = hello_.nonce_c;
    t.nonce_s = challenge_.nonce_s;
    t.y_c = y_c;
    t.y_s = y_s;
    t.rand = challenge_.rand;
    t.session_id = challenge_.session_id;
    t.hello_counter = hello_counter_;
    t.challenge_counter = challenge_counter_;
    t.code_bound = challenge_.activation_required;
    return protocol::HashTranscript(t);
  }

  // RES = f2 of Milenage for RAND under a Ki_2 the proxy computed, with OPc_1
  // (docs/protocol.md §4.3).
  StatusOr<protocol::Res> Res(const SecretBytes& ki2) const {
    SIMKMS_ASSIGN_OR_RETURN(auto cipher, kms::SoftwareAes128::Create(ki2));
    kms::Block opc{};
    std::copy(opc_.reveal().begin(), opc_.reveal().end(), opc.begin());
    kms::Block rand{};
    std::copy(challenge_.rand.begin(), challenge_.rand.end(), rand.begin());
    SIMKMS_ASSIGN_OR_RETURN(kms::MilenageOutput out, kms::ComputeMilenage(*cipher, opc, rand, kms::Sqn{}, kms::Amf{}));
    protocol::Res res{};
    std::copy(out.res.begin(), out.res.end(), res.begin());
    return res;
  }

  std::string imsi_;
  protocol::OtaCiphers ota_;
  protocol::DhGroup group_;
  SecretBytes opc_;  // OPc_1
  protocol::Hello hello_;
  protocol::Challenge challenge_;
  Bytes chip_share_;
  Bytes sc_share_;
  uint64_t hello_counter_ = 0;
  uint64_t challenge_counter_ = 0;
  uint64_t confirm_counter_ = 0;
  std::optional<protocol::EphemeralKey> toward_sc_;
  std::optional<protocol::EphemeralKey> toward_chip_;
};

// A slice of the 10^6 six-digit codes around 314159 (the whole space only takes
// 50 times as long and finds the same).
inline std::vector<std::string> CodeCandidates() {
  std::vector<std::string> codes;
  for (int i = 300000; i < 320000; ++i) codes.push_back(std::to_string(i));
  return codes;
}

}  // namespace simkms::testing
