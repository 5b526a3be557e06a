#include "tools/chipsim/card.h"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <string_view>

#include "base/secret_array.h"
#include "base/wiped_buffer.h"
#include "softcrypto/milenage.h"
#include "softcrypto/software_aes.h"
#include "tools/chipsim/apdu.h"
#include "tools/chipsim/card_files.h"

namespace simkms::chip {
namespace {

// The ATR (TS 102 221 §6.3, ISO 7816-3 §8.2): direct convention (3B); T0 88:
// TD1 follows, 8 historical bytes; TD1 80: TD2 follows, T=0 (the only
// protocol this card speaks); TD2 1F: TA3 follows, T=15 (global interface
// bytes); TA3 C6: clock stop with no preferred level (b8 b7 = 11), classes B
// (3 V, b2) and C (1.8 V, b3), not A (5 V) (TS 102 221 §6.2.1, §6.3.3); the
// historical bytes "SIMKMS01"; TCK, the XOR of T0..the last historical byte,
// present because a T other than 0 (T=15) is indicated.
constexpr std::array<uint8_t, 13> kAtrBody = {0x3B, 0x88, 0x80, 0x1F, 0xC6, 'S', 'I', 'M', 'K', 'M', 'S', '0', '1'};

Bytes MakeAtr() {
  Bytes atr(kAtrBody.begin(), kAtrBody.end());
  uint8_t tck = 0;
  for (std::size_t i = 1; i < atr.size(); ++i) tck ^= atr[i];
  atr.push_back(tck);
  return atr;
}

// Response data tags of AUTHENTICATE (TS 31.102 §7.1.2.1).
constexpr uint8_t kTagAuthOk = 0xDB;
constexpr uint8_t kTagSyncFailure = 0xDC;

struct Reply {
  Bytes data;
  Sw sw = kSwOk;
};

Reply Answer(Dialect d, Condition c, uint8_t xx = 0) { return Reply{{}, SwFor(d, c, xx)}; }

// The applet's errors as status words (toolkit_applet.h).
Reply FromAppletStatus(Dialect d, const simkms::Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return Reply{};
    case StatusCode::kInvalidArgument: return Answer(d, Condition::kIncorrectData);
    case StatusCode::kUnavailable: return Answer(d, Condition::kToolkitBusy);
    case StatusCode::kFailedPrecondition: return Answer(d, Condition::kConditionsNotSatisfied);
    default: return Answer(d, Condition::kTechnicalProblem);
  }
}

template <std::size_t N>
std::array<uint8_t, N> ToArray(ByteView v) {
  std::array<uint8_t, N> out{};
  std::copy_n(v.begin(), N, out.begin());
  return out;
}

template <std::size_t N>
void Append(Bytes& out, const std::array<uint8_t, N>& a) {
  out.insert(out.end(), a.begin(), a.end());
}

// The Milenage BlockCipher and OPc of a key, for one command.
struct KeyContext {
  std::unique_ptr<kms::SoftwareAes128> aes;
  SecretArray<16> opc;
};

StatusOr<std::unique_ptr<KeyContext>> ContextFor(const SecretBytes& key, const SecretBytes& opc) {
  auto c = std::make_unique<KeyContext>();
  SIMKMS_ASSIGN_OR_RETURN(c->aes, kms::SoftwareAes128::Create(key));
  if (opc.size() != c->opc.size()) return InternalError("OPc must be 16 bytes");
  std::copy(opc.reveal().begin(), opc.reveal().end(), c->opc.mutable_data());
  return c;
}

}  // namespace

struct Card::Impl {
  ChipState state;
  ToolkitApplet* applet = nullptr;
  uint64_t generation = 0;

  // Volatile: lost on every reset.
  bool powered = false;
  FileId current = FileId::kMf;
  bool usim_active = false;
  bool pin_verified = false;
  Bytes response;  // waiting for GET RESPONSE
  // The current record of the current linear fixed EF (index from 0); none
  // after a SELECT (TS 102 221 §8.5).
  std::optional<std::size_t> record;

  Bytes Transmit(ByteView raw);
  Reply Dispatch(Dialect d, const CommandApdu& a, Bytes pending_response);

  // Helpers for the T=0 cases.
  Reply Deferred(Dialect d, Bytes data);
  static Reply Direct(Dialect d, const CommandApdu& a, Bytes available, bool allow_shorter);
  bool ChvSatisfied() const { return !state.pin_enabled || pin_verified; }
  bool Allowed(Access access) const {
    return access == Access::kAlways || (access == Access::kPin1 && ChvSatisfied());
  }
  Bytes Contents(FileId ef) const { return CurrentContents(ContentOf(ef), state); }
  // Keeps what a terminal wrote to `ef` in the non-volatile state.
  Reply Store(Dialect d, FileId ef, const Bytes& contents);
  // The EF a READ/UPDATE command acts on: the current one, or the one its SFI
  // names (which then becomes current). The status word when there is none.
  std::optional<Sw> TargetEf(Dialect d, std::optional<uint8_t> sfi, Structure wanted, FileId& ef);
  std::optional<Sw> BinaryTarget(Dialect d, const CommandApdu& a, bool update, FileId& ef, std::size_t& offset);

  Reply Select(Dialect d, const CommandApdu& a);
  Reply StatusCommand(Dialect d, const CommandApdu& a);
  Reply ReadBinary(Dialect d, const CommandApdu& a);
  Reply UpdateBinary(Dialect d, const CommandApdu& a);
  Reply RecordCommand(Dialect d, const CommandApdu& a);
  Reply ChvCommand(Dialect d, const CommandApdu& a);
  Reply FileStateCommand(Dialect d, const CommandApdu& a);
  Reply RunGsmAlgorithm(Dialect d, const CommandApdu& a);
  Reply Authenticate(Dialect d, const CommandApdu& a);
  Reply GetResponse(Dialect d, const CommandApdu& a, Bytes pending);
  Reply Toolkit(Dialect d, const CommandApdu& a);
  Reply ResetPersonalizationCommand(Dialect d, const CommandApdu& a);

  StatusOr<std::pair<kms::Res, std::pair<kms::Block, kms::Block>>> GsmValues(const kms::Block& rand);
};

Card::Card(ChipState state, ToolkitApplet* applet) : impl_(std::make_unique<Impl>()) {
  impl_->state = std::move(state);
  impl_->applet = applet;
}
Card::~Card() = default;
Card::Card(Card&&) noexcept = default;
Card& Card::operator=(Card&&) noexcept = default;

Bytes Card::PowerOn() {
  impl_->powered = true;
  impl_->current = FileId::kMf;
  impl_->usim_active = false;
  impl_->pin_verified = false;
  impl_->response.clear();
  impl_->record.reset();
  return Atr();
}

void Card::PowerOff() { impl_->powered = false; }

Bytes Card::Atr() { return MakeAtr();
}

Bytes Card::Transmit(ByteView command_apdu) { return impl_->Transmit(command_apdu); }
const ChipState& Card::state() const { return impl_->state; }
uint64_t Card::state_generation() const { return impl_->generation; }

Bytes Card::Impl::Transmit(ByteView raw) {
  auto sw_bytes = [](Sw sw) { return Bytes{static_cast<uint8_t>(sw >> 8), static_cast<uint8_t>(sw)}; };
  if (!powered) return sw_bytes(0x6F00);
  // T=0: response data is available only to the command right after the one
  // that announced it.
  Bytes pending_response = std::move(response);
  response.clear();
  StatusOr<CommandApdu> parsed = ParseCommandApdu(raw);
  if (!parsed.ok()) return sw_bytes(SwFor(Dialect::kUicc, Condition::kWrongLength));
  const CommandApdu& a = *parsed;
  // The data field may hold a PIN, a PUK or an activation code: wiped when done.
  WipeOnExit wipe_data(parsed->data);

  Reply r;
  if (a.cla == kClaGsm) {
    r = Dispatch(Dialect::kGsm, a, std::move(pending_response));
  } else {
    const uint8_t kind = a.cla & 0xF0;
    if (kind == 0x00 || kind == 0x80) {
      if ((a.cla & 0x03) != 0) {
        r = Answer(Dialect::kUicc, Condition::kLogicalChannelUnsupported);
      } else if ((a.cla & 0x0C) != 0) {
        r = Answer(Dialect::kUicc, Condition::kWrongCla);  // secure messaging: not supported
      } else {
        r = Dispatch(Dialect::kUicc, a, std::move(pending_response));
      }
    } else if (kind == 0x40 || kind == 0xC0) {
      r = Answer(Dialect::kUicc, Condition::kLogicalChannelUnsupported);  // channels 4..19
    } else {
      r = Answer(Dialect::kUicc, Condition::kWrongCla);
    }
  }
  // A proactive command waiting turns a normal ending into 91 XX.
  if (r.sw == kSwOk && applet != nullptr) {
    if (std::optional<Bytes> pending = applet->PendingProactiveCommand()) {
      r.sw = SwFor(Dialect::kUicc, Condition::kProactivePending,
                   static_cast<uint8_t>(std::min<std::size_t>(pending->size(), 0xFF)));
    }
  }
  Bytes out = std::move(r.data);
  out.push_back(static_cast<uint8_t>(r.sw >> 8));
  out.push_back(static_cast<uint8_t>(r.sw));
  return out;
}

Reply Card::Impl::Dispatch(Dialect d, const CommandApdu& a, Bytes pending_response) {
  const bool gsm = d == Dialect::kGsm;
  // The class each instruction belongs to in the UICC command set.
  enum class Set { kIso, kProprietary, kNone };
  Set set = Set::kNone;
  switch (a.ins) {
    case kInsSelect:
    case kInsReadBinary:
    case kInsReadRecord:
    case kInsUpdateBinary:
    case kInsUpdateRecord:
    case kInsVerify:
    case kInsChange:
    case kInsDisable:
    case kInsEnable:
    case kInsUnblock:
    case kInsDeactivateFile:
    case kInsActivateFile:
    case kInsAuthenticate:
    case kInsGetResponse: set = Set::kIso; break;
    case kInsStatus:
    case kInsTerminalProfile:
    case kInsEnvelope:
    case kInsFetch:
    case kInsTerminalResponse: set = Set::kProprietary; break;
    case kInsResetPersonalization: set = gsm ? Set::kNone : Set::kProprietary; break;
    default: break;
  }
  if (set == Set::kNone) return Answer(d, Condition::kWrongIns);
  if (!gsm && (set == Set::kIso) != ((a.cla & 0xF0) == 0x00)) return Answer(d, Condition::kWrongCla);

  switch (a.ins) {
    case kInsSelect: return Select(d, a);
    case kInsStatus: return StatusCommand(d, a);
    case kInsReadBinary: return ReadBinary(d, a);
    case kInsUpdateBinary: return UpdateBinary(d, a);
    case kInsReadRecord:
    case kInsUpdateRecord: return RecordCommand(d, a);
    case kInsVerify:
    case kInsChange:
    case kInsDisable:
    case kInsEnable:
    case kInsUnblock: return ChvCommand(d, a);
    case kInsDeactivateFile:
    case kInsActivateFile: return FileStateCommand(d, a);
    case kInsAuthenticate: return gsm ? RunGsmAlgorithm(d, a) : Authenticate(d, a);
    case kInsGetResponse: return GetResponse(d, a, std::move(pending_response));
    case kInsResetPersonalization: return ResetPersonalizationCommand(d, a);
    default: return Toolkit(d, a);
  }
}

Reply Card::Impl::Deferred(Dialect d, Bytes data) {
  if (data.empty()) return Reply{};
  const auto n = static_cast<uint8_t>(std::min<std::size_t>(data.size(), 0xFF));
  response = std::move(data);
  return Answer(d, Condition::kResponseData, n);
}

// A case-2 answer: the data goes out with the command, P3 bytes of it (P3 00 =
// 256). More than available, or (unless allowed) fewer: wrong Le, with the
// right length in SW2.
Reply Card::Impl::Direct(Dialect d, const CommandApdu& a, Bytes available, bool allow_shorter) {
  if (!a.data.empty()) return Answer(d, Condition::kWrongLength);
  const std::size_t le = a.p3 == 0 ? 256 : a.p3;
  const auto n = static_cast<uint8_t>(std::min<std::size_t>(available.size(), 0xFF));
  if (le > available.size() || (!allow_shorter && le != available.size())) return Answer(d, Condition::kWrongLe, n);
  available.resize(le);
  return Reply{std::move(available), kSwOk};
}

Reply Card::Impl::Select(Dialect d, const CommandApdu& a) {
  const bool gsm = d == Dialect::kGsm;
  const bool has_data = a.p3 == a.data.size();
  if (gsm) {
    if (a.p1 != 0 || a.p2 != 0) return Answer(d, Condition::kWrongP1P2);
    if (a.p3 != 2 || !has_data) return Answer(d, Condition::kWrongLength);
    auto f = SelectByFid(current, static_cast<uint16_t>((a.data[0] << 8) | a.data[1]), true, usim_active);
    if (!f) return Answer(d, Condition::kFileNotFound);
    current = *f;
    record.reset();
    return Deferred(d, GsmSelectResponse(current, state));
  }
  // P2: 04 return the FCP, 0C no data; first occurrence only.
  if (a.p2 != 0x04 && a.p2 != 0x0C) return Answer(d, Condition::kWrongP1P2Combination);
  // P1: 00 by FID, 04 by DF name, 08 by path from the MF. Not supported: 01..03
  // (child DF, EF, parent by P1) and 09 (path from the current DF).
  if (a.p1 != 0x00 && a.p1 != 0x04 && a.p1 != 0x08) return Answer(d, Condition::kWrongP1P2Combination);
  if (a.p3 == 0 || !has_data) return Answer(d, Condition::kWrongLength);
  std::optional<FileId> f;
  switch (a.p1) {
    case 0x00:  // by file identifier
      if (a.p3 != 2) return Answer(d, Condition::kWrongLength);
      f = SelectByFid(current, static_cast<uint16_t>((a.data[0] << 8) | a.data[1]), false, usim_active);
      break;
    case 0x04: {  // by DF name: the USIM's AID, possibly right-truncated after RID + application code
      if (a.p3 > sizeof(kUsimAid)) return Answer(d, Condition::kWrongLength);
      if (a.p3 >= kMinAidPrefix && std::equal(a.data.begin(), a.data.end(), std::begin(kUsimAid))) f = FileId::kAdfUsim;
      break;
    }
    case 0x08: {  // by path from the MF (without 3F00)
      if (a.p3 % 2 != 0) return Answer(d, Condition::kWrongLength);
      f = FileId::kMf;
      for (std::size_t i = 0; i < a.data.size() && f; i += 2) {
        f = ChildByFid(*f, static_cast<uint16_t>((a.data[i] << 8) | a.data[i + 1]), usim_active);
      }
      break;
    }
    default: return Answer(d, Condition::kWrongP1P2Combination);
  }
  if (!f) return Answer(d, Condition::kFileNotFound);
  current = *f;
  record.reset();
  if (current == FileId::kAdfUsim) usim_active = true;
  if (a.p2 == 0x0C) return Reply{};
  return Deferred(d, Fcp(current, state));
}

Reply Card::Impl::StatusCommand(Dialect d, const CommandApdu& a) {
  const FileId dir = IsDf(current) ? current : ParentDf(current);
  if (d == Dialect::kGsm) {
    if (a.p1 != 0 || a.p2 != 0) return Answer(d, Condition::kWrongP1P2);
    return Direct(d, a, GsmSelectResponse(dir, state), /*allow_shorter=*/true);
  }
  // P1: 00 no indication, 01 application initialised, 02 terminating.
  if (a.p1 > 0x02) return Answer(d, Condition::kWrongP1P2Combination);
  switch (a.p2) {
    case 0x00: return Direct(d, a, Fcp(dir, state), true);
    case 0x01: {
      if (dir != FileId::kAdfUsim) return Answer(d, Condition::kReferencedDataNotFound);
      Bytes name{0x84, static_cast<uint8_t>(sizeof(kUsimAid))};
      name.insert(name.end(), std::begin(kUsimAid), std::end(kUsimAid));
      return Direct(d, a, std::move(name), true);
    }
    case 0x0C:
      if (a.p3 != 0 || !a.data.empty()) return Answer(d, Condition::kWrongLength);
      return Reply{};
    default: return Answer(d, Condition::kWrongP1P2Combination);
  }
}

Reply Card::Impl::Store(Dialect d, FileId ef, const Bytes& contents) {
  auto name = WritableContentName(ContentOf(ef));
  // Unreachable: only the writable files have UPDATE condition PIN1, the rest ADM or never.
  if (!name) return Answer(d, Condition::kTechnicalProblem);
  state.terminal_writes[std::string(*name)] = SecretBytes::Copy(contents);
  ++generation;
  return Reply{};
}

std::optional<Sw> Card::Impl::TargetEf(Dialect d, std::optional<uint8_t> sfi, Structure wanted, FileId& ef) {
  ef = current;
  if (sfi) {
    auto f = SelectBySfi(current, *sfi);
    if (!f) return SwFor(d, Condition::kFileNotFound);
    ef = *f;
  }
  if (IsDf(ef)) return SwFor(d, Condition::kNoEfSelected);
  if (StructureOf(ef) != wanted) return SwFor(d, Condition::kIncompatibleFileStructure);
  if (ef != current) {
    current = ef;  // a command by SFI selects the EF
    record.reset();
  }
  return std::nullopt;
}

// READ BINARY (TS 102 221 §11.1.3, TS 51.011 §9.2.3) and UPDATE BINARY
// (§11.1.4, §9.2.4): P1 P2 the offset, or (UICC) P1 = 100 SFI, P2 the offset.
// The EF (checked: transparent, its READ or UPDATE condition met) and the
// offset, or the status word refusing the command.
std::optional<Sw> Card::Impl::BinaryTarget(Dialect d, const CommandApdu& a, bool update, FileId& ef,
                                           std::size_t& offset) {
  std::optional<uint8_t> sfi;
  if ((a.p1 & 0x80) != 0) {
    if (d == Dialect::kGsm || (a.p1 & 0x60) != 0) return SwFor(d, Condition::kWrongP1P2Combination);
    sfi = a.p1 & 0x1F;
    offset = a.p2;
  } else {
    offset = (std::size_t{a.p1} << 8) | a.p2;
  }
  if (auto sw = TargetEf(d, sfi, Structure::kTransparent, ef)) return sw;
  if (!Allowed(update ? RuleOf(ef).update : RuleOf(ef).read)) return SwFor(d, Condition::kSecurityNotSatisfied);
  return std::nullopt;
}

Reply Card::Impl::ReadBinary(Dialect d, const CommandApdu& a) {
  if (!a.data.empty()) return Answer(d, Condition::kWrongLength);
  FileId ef = current;
  std::size_t offset = 0;
  if (auto sw = BinaryTarget(d, a, /*update=*/false, ef, offset)) return Reply{{}, *sw};
  Bytes contents = Contents(ef);
  if (offset >= contents.size()) return Answer(d, Condition::kOutOfRange);
  return Direct(d, a, Bytes(contents.begin() + static_cast<std::ptrdiff_t>(offset), contents.end()), true);
}

Reply Card::Impl::UpdateBinary(Dialect d, const CommandApdu& a) {
  if (a.p3 == 0 || a.data.size() != a.p3) return Answer(d, Condition::kWrongLength);
  FileId ef = current;
  std::size_t offset = 0;
  if (auto sw = BinaryTarget(d, a, /*update=*/true, ef, offset)) return Reply{{}, *sw};
  Bytes contents = Contents(ef);
  WipeOnExit wipe_contents(contents);  // EF_KEYS holds CK and IK
  if (offset >= contents.size()) return Answer(d, Condition::kOutOfRange);
  if (offset + a.data.size() > contents.size()) return Answer(d, Condition::kWrongLength);
  std::copy(a.data.begin(), a.data.end(), contents.begin() + static_cast<std::ptrdiff_t>(offset));
  return Store(d, ef, contents);
}

// READ RECORD (TS 102 221 §11.1.5, TS 51.011 §9.2.5) and UPDATE RECORD
// (§11.1.6, §9.2.6) on a linear fixed EF. P2 b3..b1: 02 next, 03 previous,
// 04 absolute (P1 the record number) or current (P1 00); UICC: P2 b8..b4 an
// SFI (00000: the current EF). Next from no current record is the first,
// previous the last; past either end, and an absolute number beyond the
// file, is "record not found", leaving the record pointer as it was. The
// absolute mode does not move the pointer.
Reply Card::Impl::RecordCommand(Dialect d, const CommandApdu& a) {
  const bool update = a.ins == kInsUpdateRecord;
  if (update ? (a.p3 == 0 || a.data.size() != a.p3) : !a.data.empty()) return Answer(d, Condition::kWrongLength);
  const uint8_t mode = a.p2 & 0x07;
  const uint8_t sfi_bits = a.p2 >> 3;
  if ((mode != 0x02 && mode != 0x03 && mode != 0x04) || (d == Dialect::kGsm && sfi_bits != 0) ||
      (mode != 0x04 && a.p1 != 0) || sfi_bits == 0x1F) {
    return Answer(d, d == Dialect::kGsm ? Condition::kWrongP1P2 : Condition::kWrongP1P2Combination);
  }
  FileId ef = current;
  std::optional<uint8_t> sfi;
  if (sfi_bits != 0) sfi = sfi_bits;
  if (auto sw = TargetEf(d, sfi, Structure::kLinearFixed, ef)) return Reply{{}, *sw};
  if (!Allowed(update ? RuleOf(ef).update : RuleOf(ef).read)) return Answer(d, Condition::kSecurityNotSatisfied);
  const std::size_t size = RecordSize(ef);
  Bytes contents = Contents(ef);
  WipeOnExit wipe_contents(contents);
  const std::size_t count = contents.size() / size;
  std::optional<std::size_t> target;
  switch (mode) {
    case 0x02:
      if (!record) target = 0;
      else if (*record + 1 < count) target = *record + 1;
      break;
    case 0x03:
      if (!record) target = count - 1;
      else if (*record > 0) target = *record - 1;
      break;
    default:
      if (a.p1 == 0) target = record;
      else if (a.p1 <= count) target = a.p1 - 1u;
      break;
  }
  if (!target) return Answer(d, Condition::kRecordNotFound);
  const auto begin = contents.begin() + static_cast<std::ptrdiff_t>(*target * size);
  if (update) {
    if (a.data.size() != size) return Answer(d, Condition::kWrongLength);
    std::copy(a.data.begin(), a.data.end(), begin);
    Reply stored = Store(d, ef, contents);
    if (stored.sw != kSwOk) return stored;
  }
  if (mode != 0x04) record = target;
  if (update) return Reply{};
  return Direct(d, a, Bytes(begin, begin + static_cast<std::ptrdiff_t>(size)), /*allow_shorter=*/false);
}

// INVALIDATE and REHABILITATE (TS 51.011 §9.2.7, §9.2.8), DEACTIVATE FILE and
// ACTIVATE FILE (TS 102 221 §11.1.14, §11.1.15), on the current EF (P1 P2 00
// 00, no data; selecting by identifier or path in the command is not
// supported). No file's DEACTIVATE condition is met by anyone here: it is ADM
// everywhere (TS 31.102, TS 51.011), and nobody holds ADM over this interface.
// So every file is and stays activated, and an ACTIVATE whose condition is
// met (EF_IMSI's is PIN1) succeeds and changes nothing, as on a real card.
Reply Card::Impl::FileStateCommand(Dialect d, const CommandApdu& a) {
  const bool gsm = d == Dialect::kGsm;
  if (a.p1 != 0 || a.p2 != 0) return Answer(d, gsm ? Condition::kWrongP1P2 : Condition::kWrongP1P2Combination);
  if (a.p3 != 0 || !a.data.empty()) return Answer(d, Condition::kWrongLength);
  if (IsDf(current)) return Answer(d, Condition::kNoEfSelected);
  const AccessRule rule = RuleOf(current);
  const bool deactivate = a.ins == kInsDeactivateFile;
  if (!Allowed(deactivate ? rule.deactivate : rule.activate)) return Answer(d, Condition::kSecurityNotSatisfied);
  return Reply{};
}

// VERIFY, CHANGE, DISABLE, ENABLE and UNBLOCK CHV1 (TS 51.011 §9.2.9-9.2.13,
// TS 102 221 §11.1.9-11.1.13).
Reply Card::Impl::ChvCommand(Dialect d, const CommandApdu& a) {
  const bool gsm = d == Dialect::kGsm;
  if (a.p1 != 0) return Answer(d, gsm ? Condition::kWrongP1P2 : Condition::kWrongP1P2Combination);
  // The key reference: CHV1 is P2 01; GSM's UNBLOCK CHV names it 00 (TS 51.011
  // §9.2.12), and 01 is accepted too. CHV2 (GSM 02) does not exist here.
  const bool chv1 = a.p2 == 0x01 || (gsm && a.ins == kInsUnblock && a.p2 == 0x00);
  if (!chv1) return Answer(d, Condition::kReferencedDataNotFound);

  const bool is_unblock = a.ins == kInsUnblock;
  const std::size_t need = (a.ins == kInsChange || is_unblock) ? 2 * kChvSize : kChvSize;
  // UICC: an empty VERIFY / UNBLOCK asks for the retry counter (TS 102 221
  // §11.1.9.1, §11.1.13.1).
  if (!gsm && a.p3 == 0 && a.data.empty() && (a.ins == kInsVerify || is_unblock)) {
    const Chv& chv = is_unblock ? state.puk : state.pin;
    if (chv.blocked()) return Answer(d, Condition::kChvBlocked);
    if (!is_unblock && ChvSatisfied()) return Reply{};
    return Answer(d, Condition::kWrongChv, chv.tries_left());
  }
  if (a.p3 != need || a.data.size() != need) return Answer(d, Condition::kWrongLength);
  const ByteView presented = ByteView(a.data).subspan(0, kChvSize);
  const ByteView new_value = need == 2 * kChvSize ? ByteView(a.data).subspan(kChvSize) : ByteView();

  switch (a.ins) {
    case kInsVerify:
    case kInsChange:
      if (!state.pin_enabled) return Answer(d, Condition::kChvInvalidated);
      break;
    case kInsDisable:
      if (!state.pin_enabled) return Answer(d, Condition::kChvStatusContradiction);
      break;
    case kInsEnable:
      if (state.pin_enabled) return Answer(d, Condition::kChvStatusContradiction);
      break;
    default: break;
  }
  // A value the card will store must be a PIN; checked before any try is spent.
  if (!new_value.empty() && !IsWellFormedPin(new_value)) return Answer(d, Condition::kIncorrectData);

  Chv& chv = is_unblock ? state.puk : state.pin;
  if (chv.blocked()) return Answer(d, Condition::kChvBlocked);
  const Chv::Outcome outcome = chv.Verify(presented);
  ++generation;  // the counter moved (and maybe back)
  if (outcome == Chv::Outcome::kBlocked) return Answer(d, Condition::kChvBlocked);
  if (outcome == Chv::Outcome::kWrong) {
    if (!is_unblock) pin_verified = false;  // a failed presentation ends the verified state
    return Answer(d, Condition::kWrongChv, chv.tries_left());
  }
  switch (a.ins) {
    case kInsVerify: pin_verified = true; break;
    case kInsChange:
    case kInsUnblock:
      state.pin.Set(SecretBytes::Copy(new_value));
      pin_verified = true;
      break;
    case kInsDisable: state.pin_enabled = false; break;
    case kInsEnable:
      state.pin_enabled = true;
      pin_verified = true;
      break;
    default: break;
  }
  return Reply{};
}

// RES, CK, IK of Milenage under the active key (f2..f5 ignore SQN and AMF).
StatusOr<std::pair<kms::Res, std::pair<kms::Block, kms::Block>>> Card::Impl::GsmValues(const kms::Block& rand) {
  SIMKMS_ASSIGN_OR_RETURN(auto key, ContextFor(state.active(), state.active_opc()));
  SIMKMS_ASSIGN_OR_RETURN(kms::MilenageOutput out, kms::ComputeMilenage(*key->aes, key->opc.reveal(), rand, kms::Sqn{},
                                                                       kms::Amf{}));
  return std::make_pair(out.res, std::make_pair(out.ck, out.ik));
}

// RUN GSM ALGORITHM (TS 51.011 §9.2.16): RAND -> SRES || Kc, with the GSM
// conversion of Milenage the AC uses for its triplets (c2, c3).
Reply Card::Impl::RunGsmAlgorithm(Dialect d, const CommandApdu& a) {
  if (a.p1 != 0 || a.p2 != 0) return Answer(d, Condition::kWrongP1P2);
  if (a.p3 != 16 || a.data.size() != 16) return Answer(d, Condition::kWrongLength);
  if (!ChvSatisfied()) return Answer(d, Condition::kSecurityNotSatisfied);
  auto v = GsmValues(ToArray<16>(a.data));
  if (!v.ok()) return Answer(d, Condition::kTechnicalProblem);
  Bytes out;
  Append(out, kms::ConvertResToSres(v->first));
  Append(out, kms::ConvertToKc(v->second.first, v->second.second));
  return Deferred(d, std::move(out));
}

// AUTHENTICATE (TS 31.102 §7.1.2): P2 80 GSM context (RAND -> SRES, Kc), P2 81
// 3G context (RAND, AUTN -> RES, CK, IK, Kc, or AUTS on a stale SQN).
Reply Card::Impl::Authenticate(Dialect d, const CommandApdu& a) {
  if (a.p1 != 0 || (a.p2 != 0x80 && a.p2 != 0x81)) return Answer(d, Condition::kWrongP1P2Combination);
  const bool gsm_context = a.p2 == 0x80;
  const std::size_t need = gsm_context ? 17 : 34;
  if (a.p3 != need || a.data.size() != need) return Answer(d, Condition::kWrongLength);
  if (a.data[0] != 0x10 || (!gsm_context && a.data[17] != 0x10)) return Answer(d, Condition::kIncorrectData);
  // The USIM's command: it runs in the USIM's context (TS 31.102 §7.1.2), so
  // only once ADF.USIM was selected in this session; before, no application
  // is active and the card answers 69 85, conditions of use not satisfied
  // (TS 102 221 §10.2.1, checking errors).
  if (!usim_active) return Answer(d, Condition::kConditionsNotSatisfied);
  if (!ChvSatisfied()) return Answer(d, Condition::kSecurityNotSatisfied);
  const kms::Block rand = ToArray<16>(ByteView(a.data).subspan(1, 16));

  if (gsm_context) {
    auto v = GsmValues(rand);
    if (!v.ok()) return Answer(d, Condition::kTechnicalProblem);
    Bytes out{0x04};
    Append(out, kms::ConvertResToSres(v->first));
    out.push_back(0x08);
    Append(out, kms::ConvertToKc(v->second.first, v->second.second));
    return Deferred(d, std::move(out));
  }

  const kms::Block autn = ToArray<16>(ByteView(a.data).subspan(18, 16));
  auto active = ContextFor(state.active(), state.active_opc());
  if (!active.ok()) return Answer(d, Condition::kTechnicalProblem);
  StatusOr<kms::AutnCheckResult> check = kms::CheckAutn(*(*active)->aes, (*active)->opc.reveal(), rand, autn);
  std::unique_ptr<KeyContext> key = std::move(*active);
  if (!check.ok() && check.status().code() != StatusCode::kUnauthenticated) {
    return Answer(d, Condition::kTechnicalProblem);
  }
  // No implicit commit of a pending Ki_2' here: checking an AUTN under it
  // needs its OPc, which the card receives only in the SC's COMMIT (it keeps
  // no OP to compute one, chip_state.h). A lost COMMIT is recovered by the
  // next HELLO's resync proof, which the SC answers with the COMMIT again
  // (docs/protocol.md §6); until then vectors under the new key fail here.
  if (!check.ok()) return Answer(d, Condition::kMacFailure);
  WipeOnExit wipe_check(*check);  // RES, CK, IK: copied into the answer, not kept

  const uint64_t sqn = kms::SqnToUint64(check->sqn);
  if (state.sqn.Check(sqn) != SqnArray::Verdict::kFresh) {
    // Synchronisation failure (TS 33.102 §6.3.3): AUTS carries SQN_MS, the
    // highest SQN accepted, concealed by f5* and authenticated by f1*.
    auto auts = kms::BuildAuts(*key->aes, key->opc.reveal(), rand, kms::SqnFromUint64(state.sqn.Highest()));
    if (!auts.ok()) return Answer(d, Condition::kTechnicalProblem);
    Bytes out{kTagSyncFailure, static_cast<uint8_t>(auts->size())};
    Append(out, *auts);
    return Deferred(d, std::move(out));
  }
  state.sqn.Accept(sqn);
  ++generation;
  Bytes out{kTagAuthOk, static_cast<uint8_t>(check->res.size())};
  Append(out, check->res);
  out.push_back(static_cast<uint8_t>(check->ck.size()));
  Append(out, check->ck);
  out.push_back(static_cast<uint8_t>(check->ik.size()));
  Append(out, check->ik);
  const kms::Kc kc = kms::ConvertToKc(check->ck, check->ik);
  out.push_back(static_cast<uint8_t>(kc.size()));
  Append(out, kc);
  return Deferred(d, std::move(out));
}

Reply Card::Impl::GetResponse(Dialect d, const CommandApdu& a, Bytes pending) {
  if (a.p1 != 0 || a.p2 != 0) return Answer(d, Condition::kWrongP1P2Combination);
  if (!a.data.empty()) return Answer(d, Condition::kWrongLength);
  if (pending.empty()) return Answer(d, Condition::kConditionsNotSatisfied);
  const std::size_t le = a.p3 == 0 ? 256 : a.p3;
  if (le > pending.size()) {
    const auto n = static_cast<uint8_t>(std::min<std::size_t>(pending.size(), 0xFF));
    response = std::move(pending);  // still there for a GET RESPONSE with the right Le
    return Answer(d, Condition::kWrongLe, n);
  }
  Bytes rest(pending.begin() + static_cast<std::ptrdiff_t>(le), pending.end());
  pending.resize(le);
  Reply r{std::move(pending), kSwOk};
  if (!rest.empty()) r.sw = Deferred(d, std::move(rest)).sw;
  return r;
}

// TERMINAL PROFILE, ENVELOPE, FETCH, TERMINAL RESPONSE: the applet's business
// (toolkit_applet.h); the card checks the APDU and carries the bytes.
Reply Card::Impl::Toolkit(Dialect d, const CommandApdu& a) {
  if (a.p1 != 0 || a.p2 != 0) return Answer(d, d == Dialect::kGsm ? Condition::kWrongP1P2 : Condition::kWrongP1P2Combination);
  if (a.ins == kInsFetch) {
    if (!a.data.empty()) return Answer(d, Condition::kWrongLength);
    if (applet == nullptr) return Answer(d, Condition::kFunctionNotSupported);
    std::optional<Bytes> command = applet->PendingProactiveCommand();
    if (!command) return Answer(d, Condition::kConditionsNotSatisfied);
    Reply r = Direct(d, a, *command, /*allow_shorter=*/false);
    if (r.sw == kSwOk) applet->OnFetched();
    return r;
  }
  if (a.p3 == 0 || a.data.size() != a.p3) return Answer(d, Condition::kWrongLength);
  if (applet == nullptr) {
    // A card without toolkit takes note of the profile (TS 102 221 §11.2.1)
    // and has nothing to do with it.
    if (a.ins == kInsTerminalProfile) return Reply{};
    return Answer(d, Condition::kFunctionNotSupported);
  }
  ++generation;  // the applet may change the chip's state (OTA counters, pending key)
  switch (a.ins) {
    case kInsTerminalProfile: return FromAppletStatus(d, applet->OnTerminalProfile(state, a.data));
    case kInsEnvelope: {
      StatusOr<Bytes> out = applet->OnEnvelope(state, a.data);
      if (!out.ok()) return FromAppletStatus(d, out.status());
      return Deferred(d, std::move(*out));
    }
    default: {
      StatusOr<TerminalResponse> response = DecodeTerminalResponse(a.data);
      if (!response.ok()) return Answer(d, Condition::kIncorrectData);
      return FromAppletStatus(d, applet->OnTerminalResponse(state, *response));
    }
  }
}

// RESET PERSONALIZATION (80 3E 00 00 08 | PUK), the patent's reset function:
// authorised by the current PUK (UNBLOCK CHV1 value), spending a PUK try when
// wrong, so that neither a finder of the handset nor a thief can throw the
// subscriber off the network; the dealer gets the PUK from customer care.
// Keeps the OTA counters (the SC refuses replayed counters).
Reply Card::Impl::ResetPersonalizationCommand(Dialect d, const CommandApdu& a) {
  if (a.p1 != 0 || a.p2 != 0) return Answer(d, Condition::kWrongP1P2Combination);
  if (a.p3 != kChvSize || a.data.size() != kChvSize) return Answer(d, Condition::kWrongLength);
  if (state.puk.blocked()) return Answer(d, Condition::kChvBlocked);
  const Chv::Outcome outcome = state.puk.Verify(a.data);
  ++generation;
  if (outcome == Chv::Outcome::kBlocked) return Answer(d, Condition::kChvBlocked);
  if (outcome == Chv::Outcome::kWrong) return Answer(d, Condition::kWrongChv, state.puk.tries_left());
  if (!ResetPersonalization(state).ok()) return Answer(d, Condition::kTechnicalProblem);
  pin_verified = false;
  return Reply{};
}

}  // namespace simkms::chip
