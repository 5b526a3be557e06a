// chipsim: one simulated SIM card (its image file) in a simulated handset.
// Every command powers the card on, drives it through APDUs like a phone
// (tools/chipsim/terminal.h) and saves the card's state back to the image after
// each APDU that changed it (atomic, 0600), so a crash between protocol steps
// leaves the card as a real one would be. Key values are never printed: KCVs
// only; `auth`/`gsm-auth` print the session values the card returns (RES, CK,
// IK, AUTS; SRES, Kc), as a test network would see them.
//
//   chipsim --image FILE [--pin PIN] info
//   chipsim --image FILE verify-pin --pin PIN
//   chipsim --image FILE change-pin --pin OLD --new-pin NEW
//   chipsim --image FILE unblock --puk PUK --new-pin NEW
//   chipsim --image FILE [--pin PIN] auth --rand HEX --autn HEX
//   chipsim --image FILE [--pin PIN] gsm-auth --rand HEX
//   chipsim --image FILE reset --puk PUK
//   chipsim --image FILE [--pin PIN] first-call --sc HOST:PORT [--activation-code DIGITS] [--dial NUMBER]
//                                   [--ki-holder-in-the-middle]
//   chipsim --image FILE [--pin PIN] rekey --sc HOST:PORT
//   chipsim --image FILE vpcd [--host HOST] [--port PORT]
//
// Exit codes (docs/chip-simulator.md): 0 done; 1 refused or failed (wrong PIN,
// MAC failure, the SC refused or did not answer); 2 bad command line; 3 the
// image cannot be read or written.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "tools/chipsim/card.h"
#include "tools/chipsim/chip_image.h"
#include "tools/chipsim/ki_holder_tap.h"
#include "tools/chipsim/ota_link.h"
#include "tools/chipsim/personalization_applet.h"
#include "tools/chipsim/terminal.h"
#include "tools/chipsim/vpcd_link.h"

namespace simkms::chip {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitImage = 3;

struct Options {
  std::string image;
  std::string pin = std::string(kDefaultPin);
  bool pin_given = false;
  std::string new_pin;
  std::string puk;
  std::string rand_hex;
  std::string autn_hex;
  std::string sc;
  std::string activation_code;
  std::string dial = "4930123456";
  bool ki_holder_in_the_middle = false;
  int timeout_ms = 5000;
  VpcdOptions vpcd;
};

std::string Kcv(const Bytes& kcv) { return kcv.empty() ? std::string("-") : ToHex(kcv); }

// The card in the handset for one command: the image loaded, the applet
// installed, every APDU through Card::Transmit, the image saved when changed.
class Session {
 public:
  static StatusOr<std::unique_ptr<Session>> Open(const std::string& path) {
    SIMKMS_ASSIGN_OR_RETURN(ChipState state, LoadChipImage(path));
    return std::unique_ptr<Session>(new Session(path, std::move(state)));
  }

  Card& card() { return card_; }
  const ChipState& state() { return card_.state(); }
  Status save_error() const { return save_error_; }

  Terminal::CardChannel Channel() {
    return [this](ByteView apdu) -> StatusOr<Bytes> {
      Bytes response = card_.Transmit(apdu);
      SIMKMS_RETURN_IF_ERROR(Persist());
      return response;
    };
  }

  Status Persist() {
    if (card_.state_generation() == saved_generation_) return OkStatus();
    Status s = SaveChipImage(path_, card_.state());
    if (!s.ok()) {
      save_error_ = s;
      return s;
    }
    saved_generation_ = card_.state_generation();
    return OkStatus();
  }

 private:
  Session(std::string path, ChipState state)
      : path_(std::move(path)), card_(std::move(state), &applet_) {
    card_.PowerOn();
    saved_generation_ = card_.state_generation();
  }

  std::string path_;
  PersonalizationApplet applet_;
  Card card_;
  uint64_t saved_generation_ = 0;
  Status save_error_;
};

int Fail(const std::string& message, int code = kExitFailed) {
  std::cerr << "chipsim: " << message << "\n";
  return code;
}

int FromStatus(const Status& s, Session* session = nullptr) {
  if (session != nullptr && !session->save_error().ok()) return Fail(session->save_error().ToString(), kExitImage);
  return Fail(s.message());
}

std::optional<SecretBytes> PinBlock(const std::string& digits) {
  auto block = EncodePin(digits);
  if (!block.ok()) return std::nullopt;
  return std::move(*block);
}

int Info(const Options& o) {
  auto state = LoadChipImage(o.image);
  if (!state.ok()) return Fail(state.status().ToString(), kExitImage);
  auto kcv = ComputeKcvs(*state);
  if (!kcv.ok()) return Fail(kcv.status().ToString(), kExitImage);
  std::cout << "iccid=" << state->iccid() << "\nimsi=" << state->imsi() << "\nver=" << state->ver
            << "\nprofile=" << kms::ProfileName(state->profile) << "\ndh_group=" << kms::DhGroupKindName(state->dh_group.kind)
            << "\nactive_key=" << ActiveKeyName(state->active_key) 
            << "\nkcv.ki1=" << Kcv(kcv->ki1) << "\nkcv.ki2=" << Kcv(kcv->ki2) << "\nkcv.active=" << Kcv(kcv->active)
            << "\npending_key=" << (state->pending ? "yes (session " + ToHex(state->pending->session_id) + ")" : "no")
            << "\nota_counter.out=" << state->ota.out << "\nota_counter.in=" << state->ota.in
            << "\npin.enabled=" << (state->pin_enabled ? "yes" : "no")
            << "\npin.tries_left=" << int{state->pin.tries_left()} << "\npuk.tries_left=" << int{state->puk.tries_left()}
            << "\n";
  return kExitOk;
}

// CHV commands: VERIFY (20), CHANGE (24), UNBLOCK (2C) on CHV1 (P2 01).
int ChvCommand(const Options& o, uint8_t ins) {
  auto session = Session::Open(o.image);
  if (!session.ok()) return Fail(session.status().ToString(), kExitImage);
  Terminal terminal((*session)->Channel(), nullptr, nullptr, nullptr);
  Bytes data;
  auto append = [&data](const std::string& digits, bool puk) -> bool {
    auto block = puk ? EncodePuk(digits) : EncodePin(digits);
    if (!block.ok()) return false;
    data.insert(data.end(), block->reveal().begin(), block->reveal().end());
    return true;
  };
  if (ins == kInsUnblock) {
    if (!append(o.puk, true)) return Fail("--puk must be 8 digits", kExitUsage);
  } else if (!append(o.pin, false)) {
    return Fail("--pin must be 4 to 8 digits", kExitUsage);
  }
  if (ins != kInsVerify && !append(o.new_pin, false)) return Fail("--new-pin must be 4 to 8 digits", kExitUsage);
  CommandApdu apdu{kClaIso, ins, 0x00, 0x01, static_cast<uint8_t>(data.size()), data};
  auto r = terminal.Send(apdu);
  if (!r.ok()) return FromStatus(r.status(), session->get());
  if (r->sw != kSwOk) return Fail(SwToString(r->sw) + ": " + DescribeSw(r->sw));
  std::cout << (ins == kInsVerify ? "PIN verified" : ins == kInsChange ? "PIN changed" : "PIN unblocked and set")
            << "\n";
  return kExitOk;
}

int Authenticate(const Options& o, bool gsm) {
  auto rand = FromHex(o.rand_hex);
  if (!rand.ok() || rand->size() != 16) return Fail("--rand must be 16 bytes of hex", kExitUsage);
  Bytes autn;
  if (!gsm) {
    auto a = FromHex(o.autn_hex);
    if (!a.ok() || a->size() != 16) return Fail("--autn must be 16 bytes of hex", kExitUsage);
    autn = *a;
  }
  auto session = Session::Open(o.image);
  if (!session.ok()) return Fail(session.status().ToString(), kExitImage);
  Terminal terminal((*session)->Channel(), nullptr, nullptr, nullptr);
  Status started = terminal.Start(PinBlock(o.pin));
  if (!started.ok()) return FromStatus(started, session->get());
  CommandApdu apdu;
  apdu.ins = kInsAuthenticate;
  if (gsm) {
    apdu.cla = kClaGsm;
    apdu.data = *rand;
  } else {
    apdu.cla = kClaIso;
    apdu.p2 = 0x81;  // USIM context (TS 31.102 §7.1.2)
    apdu.data.push_back(0x10);
    apdu.data.insert(apdu.data.end(), rand->begin(), rand->end());
    apdu.data.push_back(0x10);
    apdu.data.insert(apdu.data.end(), autn.begin(), autn.end());
  }
  apdu.p3 = static_cast<uint8_t>(apdu.data.size());
  auto r = terminal.Send(apdu);
  if (!r.ok()) return FromStatus(r.status(), session->get());
  if (r->sw != kSwOk) return Fail("AUTHENTICATE: " + SwToString(r->sw) + ": " + DescribeSw(r->sw));
  const Bytes& d = r->data;
  if (gsm) {
    if (d.size() != 12) return Fail("RUN GSM ALGORITHM: unexpected response length");
    std::cout << "SRES=" << ToHex(ByteView(d).subspan(0, 4)) << " Kc=" << ToHex(ByteView(d).subspan(4, 8)) << "\n";
    return kExitOk;
  }
  // DB | 08 RES | 10 CK | 10 IK [| 08 Kc]  or  DC | 0E AUTS (TS 31.102 §7.1.2.1)
  if (d.size() == 16 && d[0] == 0xDC && d[1] == 0x0E) {
    std::cout << "sync failure: AUTS=" << ToHex(ByteView(d).subspan(2, 14)) << "\n";
    return kExitFailed;
  }
  if (d.size() < 1 + 9 + 17 + 17 || d[0] != 0xDB || d[1] != 0x08 || d[10] != 0x10 || d[27] != 0x10) {
    return Fail("AUTHENTICATE: unexpected response " + ToHex(d));
  }
  std::cout << "RES=" << ToHex(ByteView(d).subspan(2, 8)) << " CK=" << ToHex(ByteView(d).subspan(11, 16))
            << " IK=" << ToHex(ByteView(d).subspan(28, 16)) << "\n";
  return kExitOk;
}

int Reset(const Options& o) {
  auto session = Session::Open(o.image);
  if (!session.ok()) return Fail(session.status().ToString(), kExitImage);
  Terminal terminal((*session)->Channel(), nullptr, nullptr, nullptr);
  // The dealer's reset is authorised by the PUK (docs/chip-simulator.md).
  auto puk = EncodePuk(o.puk);
  if (!puk.ok()) return Fail("--puk must be 8 digits", kExitUsage);
  CommandApdu apdu{kClaProprietary, kInsResetPersonalization, 0x00, 0x00, static_cast<uint8_t>(kChvSize),
                   Bytes(puk->reveal().begin(), puk->reveal().end())};
  auto r = terminal.Send(apdu);
  if (!r.ok()) return FromStatus(r.status(), session->get());
  if (r->sw != kSwOk) return Fail("RESET PERSONALIZATION: " + SwToString(r->sw) + ": " + DescribeSw(r->sw));
  std::cout << "chip reset: Ki_2 deleted, Ki_1 active, PIN 0000, PUK 00000000\n";
  return kExitOk;
}

// The K1 holder of --ki-holder-in-the-middle, on the path of this chip's first
// call. Its Ki_1 and OPc_1 are read from the card image: they stand for what a
// leaked K1 export gives an attacker for any chip of the VER (K1 and OP, from
// which this chip's Ki_1 and OPc_1 follow), or one extracted card for itself.
StatusOr<std::unique_ptr<KiHolderTap>> KiHolderInTheMiddle(const ChipState& chip) {
  SIMKMS_ASSIGN_OR_RETURN(protocol::DhGroup group, ProtocolDhGroup(chip.dh_group));
  SIMKMS_ASSIGN_OR_RETURN(KiHolderProxy proxy, KiHolderProxy::Create(chip.imsi(), chip.ki1, group, chip.ki1_opc));
  KiHolderTapOptions options;
  options.say = [](const std::string& line) { std::cout << line << std::endl; };
  return std::make_unique<KiHolderTap>(chip.imsi(), std::move(proxy), std::move(options));
}

// first-call / rekey: the handset talks to the SC through the OTA gateway model.
int Personalize(const Options& o, bool rekey) {
  auto gateway = ParseScEndpoint(o.sc);
  if (!gateway.ok()) return Fail(gateway.status().message(), kExitUsage);
  if (o.timeout_ms < 100 || o.timeout_ms > 600000) return Fail("--timeout-ms must be 100..600000", kExitUsage);
  gateway->answer_timeout_ms = o.timeout_ms;
  auto session = Session::Open(o.image);
  if (!session.ok()) return Fail(session.status().ToString(), kExitImage);
  Session& s = **session;
  const bool was_personalized = s.state().active_key == ActiveKey::kKi2;
  const Bytes kcv_before = ComputeKcvs(s.state()).value().active;
  if (rekey && !was_personalized) return Fail("the chip is not personalized yet: use first-call");

  GatewaySmsNetwork network(*gateway);
  std::unique_ptr<KiHolderTap> ki_holder;
  if (o.ki_holder_in_the_middle) {
    auto tap = KiHolderInTheMiddle(s.state());
    if (!tap.ok()) return Fail(tap.status().WithContext("--ki-holder-in-the-middle").message());
    ki_holder = std::move(*tap);
    network.set_tap(ki_holder.get());
    std::cout << "ki-holder: in the middle of this first call with the chip's Ki_1 and OPc_1 (from the card image, "
                 "as a leaked K1 export gives them)\n";
  }
  std::vector<std::string> shown;
  bool asked_for_code = false;
  Terminal terminal(
      s.Channel(), &network,
      [&](const GetInput&) -> std::optional<SecretBytes> {
        asked_for_code = true;
        if (o.activation_code.empty()) return std::nullopt;
        return SecretBytes::Copy(AsBytes(o.activation_code));
      },
      [&](const std::string& text) {
        shown.push_back(text);
        std::cout << "display: " << text << "\n";
      });
  Status started = terminal.Start(PinBlock(o.pin));
  if (!started.ok()) return FromStatus(started, &s);
  Status run = rekey ? terminal.SelectMenuItem(PersonalizationApplet::kMenuItemRenewKey) : terminal.Dial(o.dial);
  if (!run.ok()) return FromStatus(run, &s);
  if (!s.save_error().ok()) return Fail(s.save_error().ToString(), kExitImage);

  const ChipState& after = s.state();
  const Bytes kcv_after = ComputeKcvs(after).value().active;
  std::cout << "packets to the SC: " << network.packets_sent() << ", unanswered: " << network.packets_unanswered()
            << "\n";
  if (after.active_key == ActiveKey::kKi2 && !after.pending && kcv_after != kcv_before) {
    // A call attempt on a chip with a pending re-key key finishes that re-key.
    std::cout << (was_personalized ? "re-keyed" : "personalized") << ": Ki_2 KCV " << ToHex(kcv_after)
              << (was_personalized ? " (PUK unchanged)" : ", new PUK installed") << "\n";
    return kExitOk;
  }
  if (!rekey && was_personalized && !after.pending && network.packets_sent() == 0) {
    std::cout << "already personalized: Ki_2 KCV " << ToHex(kcv_after) << "\n";
    return kExitOk;
  }
  if (asked_for_code && o.activation_code.empty()) {
    return Fail("the SC asks for the activation code: pass --activation-code");
  }
  if (!shown.empty()) return Fail((rekey ? "re-key failed: " : "first call failed: ") + shown.back());
  if (network.packets_unanswered() > 0) {
    return Fail("no answer from the SC within " + std::to_string(o.timeout_ms) +
                " ms (an unknown or unauthenticated chip is not answered)");
  }
  return Fail(std::string(rekey ? "re-key" : "first call") + " did not complete" +
              (after.pending ? " (a negotiated key is pending; run it again)" : ""));
}

// The card in vsmartcard's virtual reader (vpcd_link.h) until pcscd lets go of
// it; the image saved after every APDU that changed the card.
int Vpcd(const Options& o) {
  auto session = Session::Open(o.image);
  if (!session.ok()) return Fail(session.status().ToString(), kExitImage);
  Session& s = **session;
  std::cout << "chipsim: card " << s.state().iccid() << " in the vpcd reader at " << o.vpcd.host << ":" << o.vpcd.port
            << std::endl;
  Status served = ServeVpcd(o.vpcd, s.card(), [&s] { return s.Persist(); });
  if (!served.ok()) return FromStatus(served, &s);
  return kExitOk;
}

}  // namespace
}  // namespace simkms::chip

int main(int argc, char** argv) {
  using namespace simkms::chip;
  Options o;
  CLI::App app{"chipsim: a simulated Toolkit SIM card (image file) in a simulated handset"};
  app.require_subcommand(1);
  app.add_option("--image", o.image, "the card's image file (from simkms-mfr)")->required();
  CLI::App* info = app.add_subcommand("info", "public files, key check values, counters, PIN/PUK state");
  CLI::App* verify = app.add_subcommand("verify-pin", "VERIFY CHV1");
  CLI::App* change = app.add_subcommand("change-pin", "CHANGE CHV1");
  CLI::App* unblock = app.add_subcommand("unblock", "UNBLOCK CHV1 with the PUK, setting a new PIN");
  CLI::App* auth = app.add_subcommand("auth", "AUTHENTICATE in USIM context: RES/CK/IK or AUTS");
  CLI::App* gsm = app.add_subcommand("gsm-auth", "RUN GSM ALGORITHM: SRES/Kc");
  CLI::App* reset = app.add_subcommand("reset", "the dealer's reset: Ki_2 deleted, Ki_1 active, PIN/PUK defaults");
  CLI::App* first = app.add_subcommand("first-call", "a call attempt: the first-call protocol with the SC");
  CLI::App* rekey = app.add_subcommand("rekey", "SIM menu 'renew key': a re-key with the SC");
  CLI::App* vpcd = app.add_subcommand("vpcd", "the card in vsmartcard's virtual PC/SC reader, until pcscd closes it");
  vpcd->add_option("--host", o.vpcd.host, "where vpcd (pcscd's reader driver) listens (default 127.0.0.1)");
  vpcd->add_option("--port", o.vpcd.port, "its port (default 35963, vpcd's reader 0)");
  vpcd->add_option("--connect-timeout-ms", o.vpcd.connect_timeout_ms,
                   "keep trying this long while the reader is not listening yet (default 10000)");
  for (CLI::App* c : {verify, change, auth, gsm, first, rekey}) {
    c->add_option("--pin", o.pin, "PIN (CHV1); default 0000");
  }
  verify->get_option("--pin")->required();
  change->get_option("--pin")->required();
  change->add_option("--new-pin", o.new_pin, "new PIN, 4 to 8 digits")->required();
  unblock->add_option("--puk", o.puk, "PUK, 8 digits")->required();
  reset->add_option("--puk", o.puk, "PUK, 8 digits (00000000 until the first call)")->required();
  unblock->add_option("--new-pin", o.new_pin, "new PIN, 4 to 8 digits")->required();
  auth->add_option("--rand", o.rand_hex, "RAND, 32 hex digits")->required();
  auth->add_option("--autn", o.autn_hex, "AUTN, 32 hex digits")->required();
  gsm->add_option("--rand", o.rand_hex, "RAND, 32 hex digits")->required();
  for (CLI::App* c : {first, rekey}) {
    c->add_option("--sc", o.sc, "the SC's chip channel (kmsd), HOST:PORT; plain TCP")->required();
    c->add_option("--timeout-ms", o.timeout_ms, "wait this long for each answer of the SC (default 5000)");
  }
  first->add_option("--activation-code", o.activation_code, "typed when the card asks (GET INPUT)");
  first->add_option("--dial", o.dial, "the number the customer dials (call control)");
  first->add_flag("--ki-holder-in-the-middle", o.ki_holder_in_the_middle,
                  "a man in the middle who holds this chip's Ki_1, as a leaked K1 gives it (here read from the card "
                  "image), swaps both DH shares and searches the activation code offline, then answers the SC with "
                  "what it found or a guess; for demonstrations and tests (docs/protocol.md 5.2)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (info->parsed()) return Info(o);
  if (verify->parsed()) return ChvCommand(o, simkms::chip::kInsVerify);
  if (change->parsed()) return ChvCommand(o, simkms::chip::kInsChange);
  if (unblock->parsed()) return ChvCommand(o, simkms::chip::kInsUnblock);
  if (auth->parsed()) return Authenticate(o, false);
  if (gsm->parsed()) return Authenticate(o, true);
  if (reset->parsed()) return Reset(o);
  if (first->parsed()) return Personalize(o, false);
  if (vpcd->parsed()) return Vpcd(o);
  return Personalize(o, true);
}
