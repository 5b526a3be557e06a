// Test-side counterparts of the chip's applet and handset: the SC's half of the
// first-call protocol computed in software from the same codec and key schedule
// (sc-engine/protocol/; the token-backed SC is exercised against the chip in
// tests/e2e/chipsim_e2e_test.cc), and an SmsNetwork that carries the handset's
// SMS to it, with the option to lose a given packet once in either direction.
#pragma once

#include <openssl/rand.h>

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "sc-engine/protocol/code_blinding.h"
#include "sc-engine/protocol/key_schedule.h"
#include "sc-engine/protocol/messages.h"
#include "sc-engine/protocol/secured_packet.h"
#include "sc-engine/protocol/sms_segments.h"
#include "sc-engine/protocol/software_session.h"
#include "softcrypto/milenage.h"
#include "softcrypto/software_aes.h"
#include "softcrypto/software_keys.h"
#include "tools/chipsim/chip_state.h"
#include "tools/chipsim/ota_link.h"

namespace simkms::chip::testing {

inline constexpr char kTestIccid[] = "8949001234567890128";
inline constexpr char kTestImsi[] = "001019876500000";

// A card as the manufacturer makes it (random K1, VER 2, modern profile), and
// the software SC that knows its Ki_1.
struct TestChip {
  ChipState state;
  SecretBytes op;
};
inline TestChip MakeTestChip(kms::DhGroupKind group) {
  SecretBytes k1(16);
  RAND_bytes(k1.mutable_data(), 16);
  TestChip t;
  t.op = SecretBytes::Copy(FromHex("cdc202d5123e20f62b6d676ac72cb318").value());
  t.state = PrePersonalize(kTestIccid, kTestImsi, MncLength::kTwo, 2, kms::Profile::kModern, k1, DhGroupSpec{group, {}, {}}, t.op).value();
  return t;
}

// OP xor AES_key(OP).
inline protocol::Opc OpcOf(const SecretBytes& key, const SecretBytes& op) {
  const SecretBytes opc = kms::SoftwareOpc(key, op).value();
  protocol::Opc out{};
  std::copy(opc.reveal().begin(), opc.reveal().end(), out.begin());
  return out;
}

// RES' of the CONFIRM: f2 under the candidate key with the OPc of the session's base key.
inline protocol::Res MilenageRes(const SecretBytes& key, const protocol::Opc& base_opc, const protocol::Rand& rand) {
  auto cipher = kms::SoftwareAes128::Create(key).value();
  const kms::Block opc = base_opc;
  kms::Block r{};
  std::copy(rand.begin(), rand.end(), r.begin());
  kms::MilenageOutput out = kms::ComputeMilenage(*cipher, opc, r, kms::Sqn{}, kms::Amf{}).value();
  protocol::Res res{};
  std::copy(out.res.begin(), out.res.end(), res.begin());
  return res;
}

template <std::size_t N>
std::array<uint8_t, N> RandomArray() {
  std::array<uint8_t, N> a{};
  RAND_bytes(a.data(), static_cast<int>(N));
  return a;
}

// The SC's role for one subscriber, all in software.
class SoftwareSc {
 public:
  SoftwareSc(std::string imsi, uint32_t ver, protocol::DhGroup group, SecretBytes ki1, SecretBytes op)
      : imsi_(std::move(imsi)), ver_(ver), group_(std::move(group)), ki1_(std::move(ki1)), op_(std::move(op)) {}

  std::optional<std::string> activation_code;
  uint8_t activation_tries_left = 3;
  bool rekey_allowed = true;

  const SecretBytes& committed_ki2() const { return ki2_; }
  const std::string& committed_puk() const { return puk_; }
  int commits() const { return commits_; }

  // The answer to a packet from the chip; nullopt where the SC drops it unanswered.
  std::optional<Bytes> OnPacket(ByteView packet) {
    auto routing = protocol::PeekRouting(packet);
    if (!routing.ok()) return std::nullopt;
    // Version 1: Ki_1; version 2: the current Ki_2, or the previous one until
    // the chip has shown it holds the new one (docs/protocol.md §6).
    std::vector<const SecretBytes*> candidates;
    if (routing->key_version == protocol::kKeyVersionKi1) candidates = {&ki1_};
    else candidates = {&ki2_, &previous_ki2_};
    const SecretBytes* base = nullptr;
    StatusOr<protocol::OpenedPacket> opened = InvalidArgumentError("no key");
    for (const SecretBytes* key : candidates) {
      if (key->empty()) continue;
      auto ota = protocol::DeriveOtaCiphers(*key).value();
      opened = protocol::OpenPacket(ota.up, packet, counter_in_);
      if (opened.ok()) {
        base = key;
        break;
      }
    }
    if (!opened.ok()) return std::nullopt;
    auto message = protocol::Decode(opened->message);
    if (!message.ok()) return std::nullopt;
    counter_in_ = opened->counter;
    version_ = routing->key_version;
    base_ = base;
    if (const auto* hello = std::get_if<protocol::Hello>(&*message)) return OnHello(*hello);
    if (const auto* confirm = std::get_if<protocol::Confirm>(&*message)) return OnConfirm(*confirm);
    return std::nullopt;
  }

 private:
  Bytes Seal(const protocol::Message& m) {
    auto ota = protocol::DeriveOtaCiphers(*base_).value();
    counter_out_ = std::max(counter_out_ + 1, counter_in_);
    return protocol::SealPacket(ota.down, version_, counter_out_, protocol::Encode(m)).value();
  }

  std::optional<Bytes> OnHello(const protocol::Hello& hello) {
    if (hello.resync_proof && !ki2_.empty()) {
      auto k_conf = protocol::DeriveConfirmKey(ki2_).value();
      if (protocol::ShortCmac(k_conf, protocol::ResyncMacInput(hello.nonce_c)).value() == *hello.resync_proof) {
        // The chip holds the committed key as pending: the COMMIT again.
        return Seal(protocol::Commit{last_session_, protocol::ShortCmac(k_conf, protocol::CommitMacInput(last_session_)).value(),
                                     OpcOf(ki2_, op_)});
      }
    }
    if (hello.kind == protocol::SessionKind::kRekey && !rekey_allowed) {
      return Seal(protocol::Error{std::nullopt, protocol::ErrorCode::kStateForbids, std::nullopt});
    }
    auto key = protocol::EphemeralKey::Generate(group_).value();
    auto z = key.SharedSecret(hello.y_c);
    if (!z.ok()) return Seal(protocol::Error{std::nullopt, protocol::ErrorCode::kBadDhValue, std::nullopt});
    Pending p;
    p.kind = hello.kind;
    p.challenge.session_id = RandomArray<8>();
    p.challenge.nonce_s = RandomArray<16>();
    p.challenge.y_s = key.public_value();
    p.challenge.rand = RandomArray<16>();
    p.challenge.activation_required = hello.kind == protocol::SessionKind::kFirstCall && activation_code.has_value();
    if (p.challenge.activation_required) {  // the share goes out blinded by the code (docs/protocol.md 5.1)
      auto w = protocol::CodeScalar(group_, imsi_, ver_, protocol::ActivationVerifier(imsi_, *activation_code).value());
      p.challenge.y_s = protocol::BlindShare(group_, key.public_value(), w.value()).value();
    }
    protocol::Transcript t;
    t.kind = hello.kind;
    t.imsi = imsi_;
    t.ver = ver_;
    t.nonce_c = hello.nonce_c;
    t.nonce_s = p.challenge.nonce_s;
    t.y_c = hello.y_c;
    t.y_s = p.challenge.y_s;
    t.rand = p.challenge.rand;
    t.session_id = p.challenge.session_id;
    t.hello_counter = counter_in_;
    t.challenge_counter = std::max(counter_out_ + 1, counter_in_);  // what Seal uses next
    t.code_bound = p.challenge.activation_required;
    p.hash = protocol::HashTranscript(t).value();
    p.secrets = protocol::DeriveSessionSecrets(*z, p.hash).value();
    protocol::Challenge c = p.challenge;
    pending_ = std::move(p);
    return Seal(c);
  }

  std::optional<Bytes> OnConfirm(const protocol::Confirm& confirm) {
    if (!pending_ || pending_->challenge.session_id != confirm.session_id) {
      return Seal(protocol::Error{confirm.session_id, protocol::ErrorCode::kUnknownSession, std::nullopt});
    }
    if (pending_->challenge.activation_required) {
      if (activation_tries_left == 0) {
        return Seal(protocol::Error{confirm.session_id, protocol::ErrorCode::kLocked, std::nullopt});
      }
      auto verifier = protocol::ActivationVerifier(imsi_, *activation_code).value();
      auto expected =
          protocol::ShortCmac(pending_->secrets.k_activate, protocol::ActivationMacInput(pending_->hash, verifier)).value();
      if (!confirm.activation_proof || *confirm.activation_proof != expected) {
        --activation_tries_left;
        if (activation_tries_left == 0) {
          return Seal(protocol::Error{confirm.session_id, protocol::ErrorCode::kLocked, std::nullopt});
        }
        return Seal(protocol::Error{confirm.session_id, protocol::ErrorCode::kWrongActivationCode, activation_tries_left});
      }
    }
    if (confirm.res != MilenageRes(pending_->secrets.ki2, OpcOf(*base_, op_), pending_->challenge.rand)) {
      return Seal(protocol::Error{confirm.session_id, protocol::ErrorCode::kWrongRes, std::nullopt});
    }
    // Commit, then answer under the key the CONFIRM came under.
    Bytes answer;
    ki2_next_ = pending_->secrets.ki2;
    auto k_conf = protocol::DeriveConfirmKey(ki2_next_).value();
    answer = Seal(protocol::Commit{confirm.session_id,
                                   protocol::ShortCmac(k_conf, protocol::CommitMacInput(confirm.session_id)).value(),
                                   OpcOf(ki2_next_, op_)});
    if (pending_->kind == protocol::SessionKind::kFirstCall) puk_ = pending_->secrets.puk;
    if (!ki2_.empty()) previous_ki2_ = ki2_;
    ki2_ = ki2_next_;
    last_session_ = confirm.session_id;
    activation_code.reset();
    pending_.reset();
    ++commits_;
    return answer;
  }

  struct Pending {
    protocol::SessionKind kind = protocol::SessionKind::kFirstCall;
    protocol::Challenge challenge;
    protocol::TranscriptHash hash{};
    protocol::SessionSecrets secrets;
  };

  std::string imsi_;
  uint32_t ver_;
  protocol::DhGroup group_;
  SecretBytes ki1_;
  SecretBytes op_;
  SecretBytes ki2_;
  SecretBytes ki2_next_;
  SecretBytes previous_ki2_;
  std::string puk_;
  protocol::SessionId last_session_{};
  std::optional<Pending> pending_;
  uint64_t counter_in_ = 0;
  uint64_t counter_out_ = 0;
  uint8_t version_ = 1;
  const SecretBytes* base_ = nullptr;
  int commits_ = 0;
};

// The air interface between a handset and a SoftwareSc: reassembles the
// handset's SMS-SUBMITs, hands complete packets to the SC, and splits the SC's
// answers into SMS-DELIVERs. drop_up / drop_down lose the n-th packet (1-based,
// counted per direction) once, as a lost SMS would.
class LossySmsNetwork : public SmsNetwork {
 public:
  explicit LossySmsNetwork(SoftwareSc& sc) : sc_(sc) {}
  int drop_up = 0;
  int drop_down = 0;
  int packets_up = 0;
  int packets_down = 0;
  std::vector<int> segments_up;  // SMS count of each packet from the chip

  Status Submit(const std::string& imsi, ByteView tpdu) override {
    SIMKMS_ASSIGN_OR_RETURN(protocol::SmsSubmit sms, protocol::DecodeSmsSubmit(tpdu));
    SIMKMS_ASSIGN_OR_RETURN(protocol::Segment segment, protocol::ParseSegment(sms.user_data));
    SIMKMS_ASSIGN_OR_RETURN(std::optional<Bytes> packet, reassembler_.Add(sms.user_data));
    if (!packet) return OkStatus();
    segments_up.push_back(segment.total);
    if (++packets_up == drop_up) return OkStatus();
    std::optional<Bytes> answer = sc_.OnPacket(*packet);
    if (!answer) return OkStatus();
    if (++packets_down == drop_down) return OkStatus();
    SIMKMS_ASSIGN_OR_RETURN(std::vector<Bytes> parts, protocol::Split(*answer, reference_++));
    for (Bytes& ud : parts) {
      protocol::SmsDeliver d;
      d.originator = protocol::SmsAddress{0x91, "491710000100"};
      d.user_data = std::move(ud);
      SIMKMS_ASSIGN_OR_RETURN(Bytes t, protocol::EncodeSmsDeliver(d));
      inbox_[imsi].push_back(std::move(t));
    }
    return OkStatus();
  }
  std::optional<Bytes> Receive(const std::string& imsi) override {
    auto& q = inbox_[imsi];
    if (q.empty()) return std::nullopt;
    Bytes b = std::move(q.front());
    q.pop_front();
    return b;
  }

 private:
  SoftwareSc& sc_;
  protocol::Reassembler reassembler_;
  std::map<std::string, std::deque<Bytes>> inbox_;
  uint8_t reference_ = 0x40;
};

}  // namespace simkms::chip::testing
