#include "sc-engine/engine/sc_role.h"

#include <array>

#include "kms/milenage.h"
#include "kms/token_block_cipher.h"
#include "sc-engine/engine/token_key_agreement.h"
#include "sc-engine/protocol/secured_packet.h"

namespace simkms::sc {
namespace {

// XRES = f2 of Milenage under the candidate Ki_2 in the token, OPc computed in the token.
StatusOr<protocol::Res> XresInToken(p11::Session& session, CK_OBJECT_HANDLE ki2, const SecretBytes& op,
                                    const protocol::Rand& rand) {
  kms::TokenBlockCipher cipher(session, ki2);
  kms::Block op_block{};
  std::copy(op.reveal().begin(), op.reveal().end(), op_block.begin());
  auto opc = kms::ComputeOpc(cipher, op_block);
  SecureWipe(op_block.data(), op_block.size());
  if (!opc.ok()) return opc.status();
  kms::Block r{};
  std::copy(rand.begin(), rand.end(), r.begin());
  SIMKMS_ASSIGN_OR_RETURN(kms::MilenageOutput out, kms::ComputeMilenage(cipher, *opc, r, kms::Sqn{}, kms::Amf{}));
  SecureWipe(opc->data(), opc->size());
  protocol::Res res{};
  std::copy(out.res.begin(), out.res.end(), res.begin());
  return res;
}

// A reply's CNTR: above the last one sent, and at least the chip's own counter,
// so that a new contract (whose record starts at 0) still answers above what a
// reused chip last accepted (the chip's reset keeps its counters).
uint64_t NextCounter(const ScSubscriber& s, uint64_t chip_counter) {
  return std::max(s.counter_out + 1, chip_counter);
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
    auto opened = protocol::OpenPacket(up, packet, s.counter_in);
    if (!opened.ok()) {
      last = opened.status();
      if (last.code() == StatusCode::kUnauthenticated) continue;  // maybe the other key
      return last;
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
  step.counter_out = NextCounter(s, opened.counter);
  protocol::Error error;
  error.session_id = id;
  error.code = code;
  if (code == protocol::ErrorCode::kWrongActivationCode) {
    error.tries_left = s.activation_tries_left > 0 ? static_cast<uint8_t>(s.activation_tries_left - 1) : 0;
  }
  SIMKMS_ASSIGN_OR_RETURN(step.packet, SealToChip(opened, step.counter_out, error));
  return step;
}

StatusOr<ScStep> ScRole::OnPacket(const ScSubscriber& s, ScPendingSession* pending, ByteView packet) {
  if (s.op.size() != 16) return FailedPreconditionError("VER OP missing for " + s.imsi);
  SIMKMS_ASSIGN_OR_RETURN(Opened opened, OpenFromChip(s, pending, packet));
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
      step.counter_out = NextCounter(s, opened.counter);
      protocol::Commit commit{*s.last_commit_session, {}};
      SIMKMS_ASSIGN_OR_RETURN(commit.commit_mac,
                              ShortCmac(session_, k_conf.get(), protocol::CommitMacInput(*s.last_commit_session)));
      SIMKMS_ASSIGN_OR_RETURN(step.packet, SealToChip(opened, step.counter_out, commit));
      return step;
    }
  }
  const bool first_call = hello->kind == protocol::SessionKind::kFirstCall;
  // A session runs only under the current key: first call under Ki_1, re-key under the current Ki_2.
  const bool under_current = opened.channel.id == s.current.id;
  if (first_call == s.personalized || !s.session_allowed || !under_current) {
    // A HELLO under Ki_1 once Ki_2 is in force cannot come from the genuine chip
    // (which would have shown a valid resync proof): misuse 1.2.
    if (first_call && s.personalized) {
      ScStep alarm;
      alarm.kind = ScStep::Kind::kCloneAlarm;
      alarm.counter_in = counter;
      return alarm;
    }
    return Reject(s, opened, std::nullopt, protocol::ErrorCode::kStateForbids);
  }
  if (Status valid = s.group.ValidatePeer(hello->y_c); !valid.ok()) {
    return Reject(s, opened, std::nullopt, protocol::ErrorCode::kBadDhValue);
  }

  protocol::Challenge challenge;
  {
    // One token call for the three random values.
    std::array<uint8_t, sizeof challenge.session_id + sizeof challenge.nonce_s + sizeof challenge.rand> random{};
    SIMKMS_RETURN_IF_ERROR(session_.GenerateRandom(random.data(), random.size()));
    std::copy_n(random.begin(), challenge.session_id.size(), challenge.session_id.begin());
    std::copy_n(random.begin() + challenge.session_id.size(), challenge.nonce_s.size(), challenge.nonce_s.begin());
    std::copy_n(random.begin() + challenge.session_id.size() + challenge.nonce_s.size(), challenge.rand.size(),
                challenge.rand.begin());
    SecureWipe(random.data(), random.size());
  }
  challenge.activation_required = first_call && s.activation_verifier.has_value();
  SIMKMS_ASSIGN_OR_RETURN(TokenEphemeral own, GenerateEphemeral(session_, s.group));
  challenge.y_s = own.public_value;
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
  SIMKMS_ASSIGN_OR_RETURN(protocol::TranscriptHash hash, protocol::HashTranscript(t));
  SIMKMS_ASSIGN_OR_RETURN(TokenSessionKeys keys, DeriveSessionKeys(session_, k_z.get(), hash));

  ScPendingSession pending;
  pending.channel = opened.channel;
  pending.ota = opened.ota;
  pending.ver = s.ver;
  pending.session_id = challenge.session_id;
  pending.transcript = hash;
  SIMKMS_ASSIGN_OR_RETURN(pending.xres, XresInToken(session_, keys.ki2.get(), s.op, challenge.rand));
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
  step.counter_out = NextCounter(s, opened.counter);
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
  if (!ConstantTimeEquals(confirm->res, pending.xres)) {
    return Reject(s, opened, pending.session_id, protocol::ErrorCode::kWrongRes);
  }
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
  ScStep step;
  step.kind = ScStep::Kind::kCommit;
  step.counter_in = counter;
  step.counter_out = NextCounter(s, opened.counter);
  protocol::Commit commit{pending.session_id, pending.commit_mac};
  SIMKMS_ASSIGN_OR_RETURN(step.packet, SealToChip(opened, step.counter_out, commit));
  return step;
}

}  // namespace simkms::sc
