#include "sc-engine/protocol/chip_role.h"

#include <openssl/rand.h>

#include "kms/milenage.h"
#include "kms/software_aes.h"
#include "sc-engine/protocol/secured_packet.h"

namespace simkms::protocol {
namespace {

uint8_t KeyVersion(const ChipProtocolState& s) { return s.personalized ? kKeyVersionKi2 : kKeyVersionKi1; }

// RES of Milenage under a candidate key: f2 does not depend on SQN or AMF.
StatusOr<Res> ResUnder(const SecretBytes& key, const SecretBytes& op, const Rand& rand) {
  SIMKMS_ASSIGN_OR_RETURN(auto cipher, kms::SoftwareAes128::Create(key));
  kms::Block op_block{};
  std::copy(op.reveal().begin(), op.reveal().end(), op_block.begin());
  SIMKMS_ASSIGN_OR_RETURN(kms::Block opc, kms::ComputeOpc(*cipher, op_block));
  SecureWipe(op_block.data(), op_block.size());
  kms::Block r{};
  std::copy(rand.begin(), rand.end(), r.begin());
  SIMKMS_ASSIGN_OR_RETURN(kms::MilenageOutput out, kms::ComputeMilenage(*cipher, opc, r, kms::Sqn{}, kms::Amf{}));
  SecureWipe(opc.data(), opc.size());
  Res res{};
  std::copy(out.res.begin(), out.res.end(), res.begin());
  return res;
}

}  // namespace

StatusOr<Bytes> ChipRole::Start(ChipProtocolState& state) {
  if (state.op.size() != 16) return FailedPreconditionError("chip has no Milenage OP");
  kind_ = state.personalized ? SessionKind::kRekey : SessionKind::kFirstCall;
  if (RAND_bytes(nonce_c_.data(), static_cast<int>(nonce_c_.size())) != 1) return InternalError("RNG failed");
  SIMKMS_ASSIGN_OR_RETURN(EphemeralKey key, EphemeralKey::Generate(state.group));
  Hello hello;
  hello.kind = kind_;
  hello.ver = state.ver;
  hello.iccid = state.iccid;
  hello.nonce_c = nonce_c_;
  hello.y_c = key.public_value();
  if (state.pending) {
    SIMKMS_ASSIGN_OR_RETURN(ShortMac proof, ShortCmac(state.pending->k_confirm, ResyncMacInput(nonce_c_)));
    hello.resync_proof = proof;
  }
  SIMKMS_ASSIGN_OR_RETURN(OtaCiphers ota, DeriveOtaCiphers(state.base_key));
  SIMKMS_ASSIGN_OR_RETURN(Bytes packet, SealPacket(ota.up, KeyVersion(state), state.counter_out + 1, Encode(hello)));
  ++state.counter_out;
  ephemeral_.emplace(std::move(key));
  return packet;
}

StatusOr<ChipOutcome> ChipRole::OnPacket(ChipProtocolState& state, ByteView packet) {
  SIMKMS_ASSIGN_OR_RETURN(PacketRouting routing, PeekRouting(packet));
  if (routing.key_version != KeyVersion(state)) {
    return InvalidArgumentError("packet uses key version " + std::to_string(routing.key_version) +
                                ", the chip expects " + std::to_string(KeyVersion(state)));
  }
  SIMKMS_ASSIGN_OR_RETURN(OtaCiphers ota, DeriveOtaCiphers(state.base_key));
  SIMKMS_ASSIGN_OR_RETURN(OpenedPacket opened, OpenPacket(ota.down, packet, state.counter_in));
  SIMKMS_ASSIGN_OR_RETURN(Message message, Decode(opened.message));
  StatusOr<ChipOutcome> outcome = InvalidArgumentError("unexpected message from the SC");
  if (const auto* challenge = std::get_if<Challenge>(&message)) {
    outcome = OnChallenge(state, *challenge);
  } else if (const auto* commit = std::get_if<Commit>(&message)) {
    outcome = OnCommit(state, *commit);
  } else if (const auto* error = std::get_if<Error>(&message)) {
    ephemeral_.reset();
    ChipOutcome rejected;
    rejected.kind = ChipOutcome::Kind::kRejected;
    rejected.error = *error;
    outcome = std::move(rejected);
  }
  // The counter moves on only for a packet the chip acted on.
  if (outcome.ok()) state.counter_in = opened.counter;
  return outcome;
}

StatusOr<ChipOutcome> ChipRole::OnChallenge(ChipProtocolState& state, const Challenge& challenge) {
  if (!ephemeral_) return FailedPreconditionError("CHALLENGE without a HELLO in progress");
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes z, ephemeral_->SharedSecret(challenge.y_s));
  Transcript t;
  t.kind = kind_;
  t.imsi = state.imsi;
  t.ver = state.ver;
  t.nonce_c = nonce_c_;
  t.nonce_s = challenge.nonce_s;
  t.y_c = ephemeral_->public_value();
  t.y_s = challenge.y_s;
  t.rand = challenge.rand;
  t.session_id = challenge.session_id;
  SIMKMS_ASSIGN_OR_RETURN(TranscriptHash hash, HashTranscript(t));
  SIMKMS_ASSIGN_OR_RETURN(SessionSecrets secrets, DeriveSessionSecrets(z, hash));

  Confirm confirm;
  confirm.session_id = challenge.session_id;
  SIMKMS_ASSIGN_OR_RETURN(confirm.res, ResUnder(secrets.ki2, state.op, challenge.rand));
  if (challenge.activation_required) {
    if (kind_ != SessionKind::kFirstCall) return InvalidArgumentError("activation code asked for on a re-key");
    SIMKMS_ASSIGN_OR_RETURN(std::string code, prompt_());
    SIMKMS_ASSIGN_OR_RETURN(SecretBytes verifier, ActivationVerifier(state.imsi, code));
    SecureWipe(code.data(), code.size());
    SIMKMS_ASSIGN_OR_RETURN(ShortMac proof, ShortCmac(secrets.k_activate, ActivationMacInput(hash, verifier)));
    confirm.activation_proof = proof;
  }
  PendingKey pending;
  pending.ki2 = std::move(secrets.ki2);
  SIMKMS_ASSIGN_OR_RETURN(pending.k_confirm, DeriveConfirmKey(pending.ki2));
  pending.puk = kind_ == SessionKind::kFirstCall ? secrets.puk : std::string();
  pending.session_id = challenge.session_id;
  SIMKMS_ASSIGN_OR_RETURN(pending.expected_commit_mac, ShortCmac(pending.k_confirm, CommitMacInput(challenge.session_id)));

  SIMKMS_ASSIGN_OR_RETURN(OtaCiphers ota, DeriveOtaCiphers(state.base_key));
  SIMKMS_ASSIGN_OR_RETURN(Bytes packet,
                          SealPacket(ota.up, KeyVersion(state), state.counter_out + 1, Encode(confirm)));
  ++state.counter_out;
  // A new exchange replaces any older pending key; the old one was never committed by the SC
  // (a committed one is resynchronised by the HELLO's proof before a new CHALLENGE is sent).
  state.pending = std::move(pending);
  ephemeral_.reset();
  ChipOutcome out;
  out.kind = ChipOutcome::Kind::kSendPacket;
  out.packet = std::move(packet);
  return out;
}

StatusOr<ChipOutcome> ChipRole::OnCommit(ChipProtocolState& state, const Commit& commit) {
  if (!state.pending) return FailedPreconditionError("COMMIT without a pending key");
  if (commit.session_id != state.pending->session_id ||
      !ConstantTimeEquals(commit.commit_mac, state.pending->expected_commit_mac)) {
    return UnauthenticatedError("COMMIT does not match the pending key");
  }
  ChipOutcome out;
  out.kind = ChipOutcome::Kind::kCommitted;
  out.new_ki2 = state.pending->ki2;
  out.new_puk = state.pending->puk;
  state.base_key = std::move(state.pending->ki2);
  state.personalized = true;
  state.pending.reset();
  ephemeral_.reset();
  return out;
}

}  // namespace simkms::protocol
