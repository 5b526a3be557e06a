#include "sc-engine/engine/sc_role.h"

#include <array>

#include "base/secret_array.h"
#include "base/wiped_buffer.h"

#include "kms/auc_vectors.h"
#include "kms/token_block_cipher.h"
#include "sc-engine/engine/token_key_agreement.h"
#include "sc-engine/protocol/code_blinding.h"
#include "sc-engine/protocol/secured_packet.h"
#include "softcrypto/milenage.h"

namespace simkms::sc {
namespace {

// What the SC computes under the candidate Ki_2 at CHALLENGE, in one multi-part
// AES-ECB operation in the token (one C_EncryptInit and C_EncryptFinal for its
// three blocks): its OPc' (OP xor AES_Ki_2(OP)), which the COMMIT carries to the
// chip, and XRES' = f2 of Milenage with the OPc of the key the session runs under
// (docs/protocol.md §4.3: the chip, which keeps no OP, cannot compute the
// candidate's own OPc before the COMMIT brings it). Only f2 is computed (TEMP and
// OUT2): no other function of the candidate key is needed.
struct CandidateKeyValues {
  SecretBytes opc;  // wiped when the COMMIT that carries it has been sealed
  protocol::Res xres{};
};
StatusOr<CandidateKeyValues> CandidateInToken(p11::Session& session, CK_OBJECT_HANDLE ki2, const SecretBytes& op,
                                              const kms::Block& base_opc, const protocol::Rand& rand) {
  kms::TokenBlockCipher cipher(session, ki2);
  SIMKMS_ASSIGN_OR_RETURN(SecretArray<16> op_block, SecretArray<16>::Copy(op, "OP"));
  SIMKMS_ASSIGN_OR_RETURN(kms::Block opc, kms::ComputeOpc(cipher, op_block.reveal()));
  CandidateKeyValues out;
  out.opc = SecretArray<16>::Take(opc).ToSecretBytes();
  kms::Block r{};
  std::copy(rand.begin(), rand.end(), r.begin());
  SIMKMS_ASSIGN_OR_RETURN(kms::Res res, kms::ComputeF2(cipher, base_opc, r));
  std::copy(res.begin(), res.end(), out.xres.begin());
  return out;
}

// The OPc of a key (OP xor AES_key(OP)), computed in the token; a SecretBytes
// so that it is wiped when the COMMIT that carries it has been sealed.
StatusOr<SecretBytes> OpcOf(p11::Session& session, CK_OBJECT_HANDLE key, const SecretBytes& op) {
  SIMKMS_ASSIGN_OR_RETURN(SecretArray<16> opc, kms::ComputeOpcInToken(session, key, op));
  return opc.ToSecretBytes();
}

// A COMMIT for the session that committed `opc`'s key.
protocol::Commit CommitFor(const protocol::SessionId& id, const protocol::ShortMac& mac, const SecretBytes& opc) {
  protocol::Commit commit{id, mac, {}};
  std::copy(opc.reveal().begin(), opc.reveal().end(), commit.opc.begin());
  return commit;
}

// A reply's CNTR: above the last one sent, and at least the chip's own counter,
// so that a new contract (whose record starts at 0) still answers above what a
// reused chip last accepted (the chip's reset keeps its counters).
uint64_t NextCounter(const BaseKey& key, uint64_t chip_counter) {
  return std::max(key.counter_out + 1, chip_counter);
}

// Ki_1 once a Ki_2 is in force: the genuine chip speaks under it only to
// resynchronise a lost COMMIT; a copy of the chip made before its first call,
// or anyone with a leaked K1, can speak under it at will (misuse 1.2).
bool IsRetiredKi1(const ScSubscriber& s, const BaseKey& key) {
  return s.personalized && key.version == protocol::kKeyVersionKi1;
}

}  // namespace

StatusOr<ScRole::Opened> ScRole::OpenFromChip(const ScSubscriber& s, const ScPendingSession* pending,
                                              ByteView packet) {
  SIMKMS_ASSIGN_OR_RETURN(protocol::PacketRouting routing, protocol::PeekRouting(packet));
  Status last = UnauthenticatedError("packet under key version " + std::to_string(routing.key_version) +
                                     ", which subscriber " + s.imsi + " does not hold");
  std::vector<BaseKey> candidates{s.current};
  candidates.insert(candidates.end(), s.previous.begin(), s.previous.end());
  for (const BaseKey& key : candidates) {
    if (key.version != routing.key_version) continue;
    std::shared_ptr<const TokenOtaKeys> ota;
    if (pending != nullptr && pending->ota && pending->ver == s.ver && pending->channel.id == key.id) {
      ota = pending->ota;  // the same base key as at HELLO: its OTA keys are in the token already
    } else {
      SIMKMS_ASSIGN_OR_RETURN(TokenOtaKeys derived, DeriveOtaKeys(session_, key.handle));
      ota = std::make_shared<const TokenOtaKeys>(std::move(derived));
    }
    TokenOtaCipher up = ota->Up(session_);
    // Authenticity first (any CNTR above 0), then this key's own counter rule.
    auto opened = protocol::OpenPacket(up, packet, 0);
    if (!opened.ok()) {
      last = opened.status();
      if (last.code() == StatusCode::kUnauthenticated) continue;  // maybe the other key
      return last;
    }
    if (opened->counter <= key.counter_in) {
      // Behind a retired Ki_1's counter: a replay of an old packet, or the
      // genuine chip after a Ki_1 holder took its first call with a higher
      // CNTR. Neither is dropped silently (a clone alarm); a packet equal to
      // the last one accepted is a duplicate of what was acted on already.
      if (IsRetiredKi1(s, key) && opened->counter < key.counter_in) {
        return Opened{protocol::Message{}, opened->counter, key, std::move(ota), /*behind_counter=*/true};
      }
      return FailedPreconditionError("secured packet counter " + std::to_string(opened->counter) +
                                     " is not higher than the last accepted " + std::to_string(key.counter_in));
    }
    SIMKMS_ASSIGN_OR_RETURN(protocol::Message message, protocol::Decode(opened->message));
    return Opened{std::move(message), opened->counter, key, std::move(ota)};
  }
  return last;
}

StatusOr<Bytes> ScRole::SealToChip(const Opened& opened, uint64_t counter, const protocol::Message& m) {
  TokenOtaCipher down = opened.ota->Down(session_);
  return protocol::SealPacket(down, opened.channel.version, counter, protocol::Encode(m));
}

StatusOr<ScStep> ScRole::Reject(const ScSubscriber& s, const Opened& opened, std::optional<protocol::SessionId> id,
                                protocol::ErrorCode code) {
  ScStep step;
  step.kind = ScStep::Kind::kRejected;
  step.error = code;
  step.counter_in = opened.counter;
  step.counter_out = NextCounter(opened.channel, opened.counter);
  protocol::Error error;
  error.session_id = id;
  error.code = code;
  if (code == protocol::ErrorCode::kWrongActivationCode) {
    error.tries_left = s.activation_tries_left > 0 ? static_cast<uint8_t>(s.activation_tries_left - 1) : 0;
  }
  SIMKMS_ASSIGN_OR_RETURN(step.packet, SealToChip(opened, step.counter_out, error));
  return step;
}

ScStep ScRole::CloneAlarm(const Opened& opened) {
  ScStep alarm;
  alarm.kind = ScStep::Kind::kCloneAlarm;
  alarm.counter_in = opened.counter;
  return alarm;
}

StatusOr<ScStep> ScRole::OnPacket(const ScSubscriber& s, ScPendingSession* pending, ByteView packet) {
  if (s.op.size() != 16) return FailedPreconditionError("VER OP missing for " + s.imsi);
  SIMKMS_ASSIGN_OR_RETURN(Opened opened, OpenFromChip(s, pending, packet));
  StatusOr<ScStep> step = Dispatch(s, pending, opened);
  if (step.ok()) step->channel = opened.channel;
  return step;
}

StatusOr<ScStep> ScRole::Dispatch(const ScSubscriber& s, ScPendingSession* pending, const Opened& opened) {
  // Under a retired Ki_1 only a HELLO may be the genuine chip's (OnHello checks its resync proof).
  if (IsRetiredKi1(s, opened.channel) &&
      (opened.behind_counter || !std::holds_alternative<protocol::Hello>(opened.message))) {
    return CloneAlarm(opened);
  }
  if (const auto* hello = std::get_if<protocol::Hello>(&opened.message)) return OnHello(s, opened, *hello);
  if (const auto* confirm = std::get_if<protocol::Confirm>(&opened.message)) {
    return OnConfirm(s, pending, opened, *confirm);
  }
  return Reject(s, opened, std::nullopt, protocol::ErrorCode::kUnknownSession);
}

StatusOr<ScStep> ScRole::OnHello(const ScSubscriber& s, const Opened& opened, const protocol::Hello& hello_message) {
  const uint64_t counter = opened.counter;
  const protocol::Hello* hello = &hello_message;
  if (hello->ver != s.ver) return Reject(s, opened, std::nullopt, protocol::ErrorCode::kStateForbids);

  // A chip that holds a key we committed but whose COMMIT it never saw.
  if (hello->resync_proof && s.last_commit_session && s.personalized) {
    SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject k_conf, DeriveConfirmKey(session_, s.current.handle));
    SIMKMS_ASSIGN_OR_RETURN(protocol::ShortMac expected,
                            ShortCmac(session_, k_conf.get(), protocol::ResyncMacInput(hello->nonce_c)));
    if (ConstantTimeEquals(expected, *hello->resync_proof)) {
      ScStep step;
      step.kind = ScStep::Kind::kResendCommit;
      step.counter_in = counter;
      step.counter_out = NextCounter(opened.channel, opened.counter);
      SIMKMS_ASSIGN_OR_RETURN(protocol::ShortMac mac,
                              ShortCmac(session_, k_conf.get(), protocol::CommitMacInput(*s.last_commit_session)));
      // The resent COMMIT carries the committed key's OPc too: the chip has none for it yet.
      SIMKMS_ASSIGN_OR_RETURN(SecretBytes opc, OpcOf(session_, s.current.handle, s.op));
      protocol::Commit commit = CommitFor(*s.last_commit_session, mac, opc);
      WipeOnExit wipe_opc(commit.opc);
      SIMKMS_ASSIGN_OR_RETURN(step.packet, SealToChip(opened, step.counter_out, commit));
      return step;
    }
  }
  const bool first_call = hello->kind == protocol::SessionKind::kFirstCall;
  // A session runs only under the current key: first call under Ki_1, re-key under the current Ki_2.
  const bool under_current = opened.channel.id == s.current.id;
  if (first_call == s.personalized || !s.session_allowed || !under_current) {
    // A HELLO (first call or re-key) under Ki_1 once Ki_2 is in force cannot
    // come from the genuine chip (which would have shown a valid resync proof): misuse 1.2.
    if (IsRetiredKi1(s, opened.channel)) return CloneAlarm(opened);
    return Reject(s, opened, std::nullopt, protocol::ErrorCode::kStateForbids);
  }
  if (Status valid = protocol::ValidateShare(s.group, hello->y_c); !valid.ok()) {
    return Reject(s, opened, std::nullopt, protocol::ErrorCode::kBadDhValue);
  }

  protocol::Challenge challenge;
  {
    // One token call for the three random values.
    SecretArray<sizeof challenge.session_id + sizeof challenge.nonce_s + sizeof challenge.rand> random;
    SIMKMS_RETURN_IF_ERROR(session_.GenerateRandom(random.mutable_data(), random.size()));
    const auto* r = random.reveal().data();
    std::copy_n(r, challenge.session_id.size(), challenge.session_id.begin());
    std::copy_n(r + challenge.session_id.size(), challenge.nonce_s.size(), challenge.nonce_s.begin());
    std::copy_n(r + challenge.session_id.size() + challenge.nonce_s.size(), challenge.rand.size(),
                challenge.rand.begin());
  }
  challenge.activation_required = first_call && s.activation_verifier.has_value();
  SIMKMS_ASSIGN_OR_RETURN(TokenEphemeral own, GenerateEphemeral(session_, s.group));
  if (challenge.activation_required) {
    // The share goes out blinded by the code (code_blinding.h): only a chip that
    // knows the code derives the same Z, and a guess can only be tried by sending
    // a CONFIRM, which counts against the contract's tries.
    SIMKMS_ASSIGN_OR_RETURN(SecretBytes w, protocol::CodeScalar(s.group, s.imsi, s.ver, *s.activation_verifier));
    SIMKMS_ASSIGN_OR_RETURN(challenge.y_s, protocol::BlindShare(s.group, own.public_value, w));
  } else {
    challenge.y_s = own.public_value;
  }
  const uint64_t challenge_counter = NextCounter(opened.channel, opened.counter);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject k_z, DeriveKz(session_, own, s.group, hello->y_c));

  protocol::Transcript t;
  t.kind = hello->kind;
  t.imsi = s.imsi;
  t.ver = s.ver;
  t.nonce_c = hello->nonce_c;
  t.nonce_s = challenge.nonce_s;
  t.y_c = hello->y_c;
  t.y_s = challenge.y_s;
  t.rand = challenge.rand;
  t.session_id = challenge.session_id;
  t.hello_counter = counter;
  t.challenge_counter = challenge_counter;
  t.code_bound = challenge.activation_required;
  SIMKMS_ASSIGN_OR_RETURN(protocol::TranscriptHash hash, protocol::HashTranscript(t));
  SIMKMS_ASSIGN_OR_RETURN(TokenSessionKeys keys,
                          DeriveSessionKeys(session_, k_z.get(), hash, challenge.activation_required));

  ScPendingSession pending;
  pending.channel = opened.channel;
  pending.ota = opened.ota;
  pending.ver = s.ver;
  pending.session_id = challenge.session_id;
  pending.transcript = hash;
  {
    SIMKMS_ASSIGN_OR_RETURN(SecretArray<16> base_opc,
                            kms::ComputeOpcInToken(session_, opened.channel.handle, s.op));
    SIMKMS_ASSIGN_OR_RETURN(CandidateKeyValues candidate,
                            CandidateInToken(session_, keys.ki2.get(), s.op, base_opc.reveal(), challenge.rand));
    pending.ki2_opc = std::move(candidate.opc);
    pending.xres = candidate.xres;
  }
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject k_conf, DeriveConfirmKey(session_, keys.ki2.get()));
  SIMKMS_ASSIGN_OR_RETURN(pending.commit_mac,
                          ShortCmac(session_, k_conf.get(), protocol::CommitMacInput(challenge.session_id)));
  pending.ki2 = std::move(keys.ki2);
  pending.k_activate = std::move(keys.k_activate);
  pending.puk = first_call ? keys.puk : std::string();
  pending.activation_required = challenge.activation_required;

  ScStep step;
  step.kind = ScStep::Kind::kChallenge;
  step.counter_in = counter;
  step.counter_out = challenge_counter;
  SIMKMS_ASSIGN_OR_RETURN(step.packet, SealToChip(opened, step.counter_out, challenge));
  step.pending = std::move(pending);
  return step;
}

StatusOr<ScStep> ScRole::OnConfirm(const ScSubscriber& s, ScPendingSession* pending_session, const Opened& opened,
                                   const protocol::Confirm& confirm_message) {
  const uint64_t counter = opened.counter;
  const protocol::Confirm* confirm = &confirm_message;
  if (pending_session == nullptr || confirm->session_id != pending_session->session_id ||
      opened.channel.id != pending_session->channel.id) {
    return Reject(s, opened, std::nullopt, protocol::ErrorCode::kUnknownSession);
  }
  ScPendingSession& pending = *pending_session;
  // With a code, the proof is checked first: a wrong code gives the chip another Z,
  // so its RES is wrong too, and it is the code that was wrong (one counted try).
  if (pending.activation_required) {
    bool proven = false;
    if (confirm->activation_proof && s.activation_verifier) {
      SIMKMS_ASSIGN_OR_RETURN(
          protocol::ShortMac expected,
          ShortCmac(session_, pending.k_activate.get(),
                    protocol::ActivationMacInput(pending.transcript, *s.activation_verifier)));
      proven = ConstantTimeEquals(expected, *confirm->activation_proof);
    }
    if (!proven) return Reject(s, opened, pending.session_id, protocol::ErrorCode::kWrongActivationCode);
  }
  if (!ConstantTimeEquals(confirm->res, pending.xres)) {
    return Reject(s, opened, pending.session_id, protocol::ErrorCode::kWrongRes);
  }
  ScStep step;
  step.kind = ScStep::Kind::kCommit;
  step.counter_in = counter;
  step.counter_out = NextCounter(opened.channel, opened.counter);
  protocol::Commit commit = CommitFor(pending.session_id, pending.commit_mac, pending.ki2_opc);
  WipeOnExit wipe_opc(commit.opc);
  SIMKMS_ASSIGN_OR_RETURN(step.packet, SealToChip(opened, step.counter_out, commit));
  return step;
}

}  // namespace simkms::sc
