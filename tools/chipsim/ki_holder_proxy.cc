#include "tools/chipsim/ki_holder_proxy.h"

#include <algorithm>
#include <variant>

#include "sc-engine/protocol/chip_role.h"
#include "sc-engine/protocol/code_blinding.h"
#include "sc-engine/protocol/secured_packet.h"

namespace simkms::chip {

StatusOr<KiHolderProxy> KiHolderProxy::Create(std::string imsi, const SecretBytes& ki1, const protocol::DhGroup& group,
                                              const SecretBytes& opc) {
  if (opc.size() != 16) return InvalidArgumentError("K1 holder: OPc_1 must be 16 bytes");
  SIMKMS_ASSIGN_OR_RETURN(protocol::OtaCiphers ota, protocol::DeriveOtaCiphers(ki1));
  return KiHolderProxy(std::move(imsi), std::move(ota), group, SecretBytes::Copy(opc.reveal()));
}

StatusOr<Bytes> KiHolderProxy::ForgeHello(ByteView packet) {
  SIMKMS_ASSIGN_OR_RETURN(protocol::OpenedPacket opened, protocol::OpenPacket(ota_.up, packet, 0));
  SIMKMS_ASSIGN_OR_RETURN(protocol::Message message, protocol::Decode(opened.message));
  if (!std::holds_alternative<protocol::Hello>(message)) return InvalidArgumentError("not a HELLO");
  hello_ = std::get<protocol::Hello>(message);
  if (hello_.kind != protocol::SessionKind::kFirstCall) return InvalidArgumentError("a re-key HELLO, not a first call");
  hello_counter_ = opened.counter;
  chip_share_ = hello_.y_c;
  SIMKMS_ASSIGN_OR_RETURN(protocol::EphemeralKey own, protocol::EphemeralKey::Generate(group_));
  toward_sc_.emplace(std::move(own));
  protocol::Hello forged = hello_;
  forged.y_c = toward_sc_->public_value();
  return protocol::SealPacket(ota_.up, protocol::kKeyVersionKi1, hello_counter_, protocol::Encode(forged));
}

StatusOr<Bytes> KiHolderProxy::ForgeChallenge(ByteView packet, const std::optional<std::string>& guess_toward_chip) {
  if (!toward_sc_) return FailedPreconditionError("CHALLENGE before a forged HELLO");
  SIMKMS_ASSIGN_OR_RETURN(protocol::OpenedPacket opened, protocol::OpenPacket(ota_.down, packet, 0));
  SIMKMS_ASSIGN_OR_RETURN(protocol::Message message, protocol::Decode(opened.message));
  if (!std::holds_alternative<protocol::Challenge>(message)) return InvalidArgumentError("not a CHALLENGE");
  challenge_ = std::get<protocol::Challenge>(message);
  challenge_counter_ = opened.counter;
  sc_share_ = challenge_.y_s;
  SIMKMS_ASSIGN_OR_RETURN(protocol::EphemeralKey own, protocol::EphemeralKey::Generate(group_));
  toward_chip_.emplace(std::move(own));
  share_to_chip_ = toward_chip_->public_value();
  if (guess_toward_chip) {
    if (!challenge_.activation_required) return InvalidArgumentError("a code guess for a CHALLENGE that asks for none");
    SIMKMS_ASSIGN_OR_RETURN(SecretBytes verifier, protocol::ActivationVerifier(imsi_, *guess_toward_chip));
    SIMKMS_ASSIGN_OR_RETURN(SecretBytes w, protocol::CodeScalar(group_, imsi_, hello_.ver, verifier));
    SIMKMS_ASSIGN_OR_RETURN(share_to_chip_, protocol::BlindShare(group_, share_to_chip_, w));
  }
  protocol::Challenge forged = challenge_;
  forged.y_s = share_to_chip_;
  return protocol::SealPacket(ota_.down, protocol::kKeyVersionKi1, challenge_counter_, protocol::Encode(forged));
}

StatusOr<bool> KiHolderProxy::OpenConfirm(ByteView confirm_packet) {
  if (!toward_chip_) return FailedPreconditionError("CONFIRM before a forged CHALLENGE");
  SIMKMS_ASSIGN_OR_RETURN(protocol::OpenedPacket opened, protocol::OpenPacket(ota_.up, confirm_packet, hello_counter_));
  SIMKMS_ASSIGN_OR_RETURN(protocol::Message message, protocol::Decode(opened.message));
  if (!std::holds_alternative<protocol::Confirm>(message)) return InvalidArgumentError("not a CONFIRM");
  confirm_counter_ = opened.counter;
  chip_proof_ = std::get<protocol::Confirm>(message).activation_proof;
  if (!chip_proof_) return false;
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes z, toward_chip_->SharedSecret(chip_share_));
  SIMKMS_ASSIGN_OR_RETURN(chip_transcript_, Transcript(chip_share_, share_to_chip_));
  SIMKMS_ASSIGN_OR_RETURN(protocol::SessionSecrets secrets, protocol::DeriveSessionSecrets(z, chip_transcript_));
  chip_k_activate_ = std::move(secrets.k_activate);
  return true;
}

StatusOr<bool> KiHolderProxy::Proves(std::string_view code) const {
  if (!chip_proof_) return FailedPreconditionError("no activation proof opened to test a code against");
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes verifier, protocol::ActivationVerifier(imsi_, code));
  const Bytes input = protocol::ActivationMacInput(chip_transcript_, verifier);
  SIMKMS_ASSIGN_OR_RETURN(protocol::ShortMac proof, protocol::ShortCmac(chip_k_activate_, input));
  return proof == *chip_proof_;
}

StatusOr<std::vector<std::string>> KiHolderProxy::SearchCode(ByteView confirm_packet,
                                                             const std::vector<std::string>& candidates) {
  SIMKMS_ASSIGN_OR_RETURN(bool has_proof, OpenConfirm(confirm_packet));
  if (!has_proof) return InvalidArgumentError("CONFIRM without an activation proof");
  std::vector<std::string> found;
  for (const std::string& code : candidates) {
    SIMKMS_ASSIGN_OR_RETURN(bool match, Proves(code));
    if (match) found.push_back(code);
  }
  return found;
}

StatusOr<Bytes> KiHolderProxy::ForgeConfirm(const std::string& code) {
  // The forged CONFIRM takes the chip's CONFIRM counter (the SC's next expected one).
  if (confirm_counter_ == 0) return FailedPreconditionError("CONFIRM forged before the chip's was opened");
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes z, toward_sc_->SharedSecret(sc_share_));
  SIMKMS_ASSIGN_OR_RETURN(protocol::TranscriptHash t, Transcript(toward_sc_->public_value(), sc_share_));
  SIMKMS_ASSIGN_OR_RETURN(protocol::SessionSecrets secrets, protocol::DeriveSessionSecrets(z, t));
  protocol::Confirm confirm;
  confirm.session_id = challenge_.session_id;
  SIMKMS_ASSIGN_OR_RETURN(confirm.res, protocol::ConfirmResUnder(secrets.ki2, opc_, challenge_.rand));
  if (challenge_.activation_required) {
    SIMKMS_ASSIGN_OR_RETURN(SecretBytes verifier, protocol::ActivationVerifier(imsi_, code));
    SIMKMS_ASSIGN_OR_RETURN(confirm.activation_proof,
                            protocol::ShortCmac(secrets.k_activate, protocol::ActivationMacInput(t, verifier)));
  }
  return protocol::SealPacket(ota_.up, protocol::kKeyVersionKi1, confirm_counter_, protocol::Encode(confirm));
}

StatusOr<protocol::Message> KiHolderProxy::OpenAnswer(ByteView packet) {
  SIMKMS_ASSIGN_OR_RETURN(protocol::OpenedPacket opened, protocol::OpenPacket(ota_.down, packet, challenge_counter_));
  return protocol::Decode(opened.message);
}

StatusOr<protocol::TranscriptHash> KiHolderProxy::Transcript(ByteView y_c, ByteView y_s) const {
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

std::string SixDigitCode(uint32_t n) {
  std::string code(6, '0');
  for (int i = 5; i >= 0 && n > 0; --i, n /= 10) code[static_cast<std::size_t>(i)] = static_cast<char>('0' + n % 10);
  return code;
}

std::vector<std::string> SixDigitCodes(uint32_t first, uint32_t count) {
  std::vector<std::string> codes;
  for (uint32_t n = first; n < 1000000 && n - first < count; ++n) codes.push_back(SixDigitCode(n));
  return codes;
}

}  // namespace simkms::chip
