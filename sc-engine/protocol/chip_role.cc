#include "sc-engine/protocol/chip_role.h"

#include <openssl/rand.h>

#include "base/secret_array.h"
#include "base/wiped_buffer.h"
#include "sc-engine/protocol/code_blinding.h"
#include "sc-engine/protocol/secured_packet.h"
#include "softcrypto/milenage.h"
#include "softcrypto/software_aes.h"

namespace simkms::protocol {
namespace {

uint8_t KeyVersion(const ChipProtocolState& s) { return s.personalized ? kKeyVersionKi2 : kKeyVersionKi1; }

}  // namespace

StatusOr<Res> ConfirmResUnder(const SecretBytes& key, const SecretBytes& base_opc, const Rand& rand) {
  SIMKMS_ASSIGN_OR_RETURN(auto cipher, kms::SoftwareAes128::Create(key));
  SIMKMS_ASSIGN_OR_RETURN(SecretArray<16> opc, SecretArray<16>::Copy(base_opc, "OPc"));
  kms::Block r{};
  std::copy(rand.begin(), rand.end(), r.begin());
  SIMKMS_ASSIGN_OR_RETURN(kms::MilenageOutput out,
                          kms::ComputeMilenage(*cipher, opc.reveal(), r, kms::Sqn{}, kms::Amf{}));
  WipeOnExit wipe_out(out);  // CK, IK, AK of the candidate key: only f2 leaves
  Res res{};
  std::copy(out.res.begin(), out.res.end(), res.begin());
  return res;
}

StatusOr<Bytes> ChipRole::Start(ChipProtocolState& state) {
  if (state.opc.size() != 16) return FailedPreconditionError("chip has no OPc for its key");
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
  hello_counter_ = state.counter_out;
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
    outcome = OnChallenge(state, *challenge, opened.counter);
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

StatusOr<ChipOutcome> ChipRole::OnChallenge(ChipProtocolState& state, const Challenge& challenge,
                                            uint64_t challenge_counter) {
  if (!ephemeral_) return FailedPreconditionError("CHALLENGE without a HELLO in progress");
  if (challenge.activation_required && kind_ != SessionKind::kFirstCall) {
    return InvalidArgumentError("activation code asked for on a re-key");
  }
  // With an activation code the SC's share comes blinded by it (code_blinding.h):
  // the code is needed before Z, and a wrong one gives a Z nobody else holds.
  std::optional<SecretBytes> verifier;
  Bytes sc_share;
  if (challenge.activation_required) {
    SIMKMS_ASSIGN_OR_RETURN(std::string code, prompt_());
    WipeOnExit wipe_code(code);
    SIMKMS_ASSIGN_OR_RETURN(verifier, ActivationVerifier(state.imsi, code));
    SIMKMS_ASSIGN_OR_RETURN(SecretBytes w, CodeScalar(state.group, state.imsi, state.ver, *verifier));
    SIMKMS_ASSIGN_OR_RETURN(sc_share, UnblindShare(state.group, challenge.y_s, w));
  } else {
    SIMKMS_RETURN_IF_ERROR(ValidateShare(state.group, challenge.y_s));
    sc_share = challenge.y_s;
  }
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes z, ephemeral_->SharedSecret(sc_share));
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
  t.hello_counter = hello_counter_;
  t.challenge_counter = challenge_counter;
  t.code_bound = challenge.activation_required;
  SIMKMS_ASSIGN_OR_RETURN(TranscriptHash hash, HashTranscript(t));
  SIMKMS_ASSIGN_OR_RETURN(SessionSecrets secrets, DeriveSessionSecrets(z, hash));

  Confirm confirm;
  confirm.session_id = challenge.session_id;
  SIMKMS_ASSIGN_OR_RETURN(confirm.res, ConfirmResUnder(secrets.ki2, state.opc, challenge.rand));
  if (verifier) {
    SIMKMS_ASSIGN_OR_RETURN(ShortMac proof, ShortCmac(secrets.k_activate, ActivationMacInput(hash, *verifier)));
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
  out.new_opc = SecretBytes::Copy(commit.opc);
  out.new_puk = state.pending->puk;
  state.base_key = std::move(state.pending->ki2);
  state.opc = out.new_opc;
  state.personalized = true;
  state.pending.reset();
  ephemeral_.reset();
  return out;
}

}  // namespace simkms::protocol
