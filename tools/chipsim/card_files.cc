#include "tools/chipsim/card_files.h"

#include <array>
#include <iterator>
#include <vector>

#include "tools/chipsim/tlv.h"

namespace simkms::chip {
namespace {

using enum Access;

// The access rules of TS 31.102 §4.2 / TS 51.011 §10 for the files below.
constexpr AccessRule kReadAlwaysUpdateNever{kAlways, kNever, kAdm, kAdm};  // EF_ICCID (TS 102 221 §13.2)
constexpr AccessRule kReadAlwaysUpdateAdm{kAlways, kAdm, kAdm, kAdm};      // EF_DIR, EF_ARR, EF_AD, EF_SPN
constexpr AccessRule kReadPinUpdateAdm{kPin1, kAdm, kAdm, kAdm};           // EF_UST, EF_SST, EF_ACC
constexpr AccessRule kReadPinUpdatePin{kPin1, kPin1, kAdm, kAdm};          // EF_LOCI, EF_PSLOCI, EF_KEYS(PS), EF_MSISDN
// EF_IMSI: READ CHV1, UPDATE ADM, INVALIDATE ADM, REHABILITATE CHV1
// (TS 51.011 §10.3.2); the USIM's view is the same file, so the same rule.
constexpr AccessRule kImsiRule{kPin1, kAdm, kAdm, kPin1};

struct FileSpec {
  FileId id;
  uint16_t fid;
  FileId parent;
  Structure structure;
  ContentId content;  // EFs only
  uint8_t sfi;        // 0: none
  AccessRule rule;    // EFs only
  uint8_t record_size;  // linear fixed EFs only
};

constexpr uint8_t kDirRecordSize = 32;
constexpr uint8_t kMsisdnRecordSize = 14;  // no alpha identifier: X = 0 (TS 31.102 §4.2.26)

constexpr FileSpec kFiles[] = {
    {FileId::kMf, 0x3F00, FileId::kMf, Structure::kDf, {}, 0, {}, 0},
    {FileId::kEfDir, 0x2F00, FileId::kMf, Structure::kLinearFixed, ContentId::kDir, 0x1E, kReadAlwaysUpdateAdm,
     kDirRecordSize},
    {FileId::kEfIccid, 0x2FE2, FileId::kMf, Structure::kTransparent, ContentId::kIccid, 0x02, kReadAlwaysUpdateNever, 0},
    {FileId::kEfArr, 0x2F06, FileId::kMf, Structure::kLinearFixed, ContentId::kArr, 0x06, kReadAlwaysUpdateAdm,
     0 /* RecordSize() computes it */},
    {FileId::kDfTelecom, 0x7F10, FileId::kMf, Structure::kDf, {}, 0, {}, 0},
    {FileId::kEfMsisdnTelecom, 0x6F40, FileId::kDfTelecom, Structure::kLinearFixed, ContentId::kMsisdn, 0,
     kReadPinUpdatePin, kMsisdnRecordSize},
    {FileId::kDfGsm, 0x7F20, FileId::kMf, Structure::kDf, {}, 0, {}, 0},
    {FileId::kEfImsiGsm, 0x6F07, FileId::kDfGsm, Structure::kTransparent, ContentId::kImsi, 0, kImsiRule, 0},
    {FileId::kEfAdGsm, 0x6FAD, FileId::kDfGsm, Structure::kTransparent, ContentId::kAd, 0, kReadAlwaysUpdateAdm, 0},
    {FileId::kEfSst, 0x6F38, FileId::kDfGsm, Structure::kTransparent, ContentId::kSst, 0, kReadPinUpdateAdm, 0},
    {FileId::kEfAccGsm, 0x6F78, FileId::kDfGsm, Structure::kTransparent, ContentId::kAcc, 0, kReadPinUpdateAdm, 0},
    {FileId::kEfLociGsm, 0x6F7E, FileId::kDfGsm, Structure::kTransparent, ContentId::kLoci, 0, kReadPinUpdatePin, 0},
    {FileId::kEfSpnGsm, 0x6F46, FileId::kDfGsm, Structure::kTransparent, ContentId::kSpn, 0, kReadAlwaysUpdateAdm, 0},
    {FileId::kAdfUsim, 0x7FFF, FileId::kMf, Structure::kDf, {}, 0, {}, 0},
    {FileId::kEfImsiUsim, 0x6F07, FileId::kAdfUsim, Structure::kTransparent, ContentId::kImsi, 0x07, kImsiRule, 0},
    {FileId::kEfAd, 0x6FAD, FileId::kAdfUsim, Structure::kTransparent, ContentId::kAd, 0x03, kReadAlwaysUpdateAdm, 0},
    {FileId::kEfUst, 0x6F38, FileId::kAdfUsim, Structure::kTransparent, ContentId::kUst, 0x04, kReadPinUpdateAdm, 0},
    {FileId::kEfAcc, 0x6F78, FileId::kAdfUsim, Structure::kTransparent, ContentId::kAcc, 0x06, kReadPinUpdateAdm, 0},
    {FileId::kEfLoci, 0x6F7E, FileId::kAdfUsim, Structure::kTransparent, ContentId::kLoci, 0x0B, kReadPinUpdatePin, 0},
    {FileId::kEfPsloci, 0x6F73, FileId::kAdfUsim, Structure::kTransparent, ContentId::kPsloci, 0x0C, kReadPinUpdatePin,
     0},
    {FileId::kEfKeys, 0x6F08, FileId::kAdfUsim, Structure::kTransparent, ContentId::kKeys, 0x08, kReadPinUpdatePin, 0},
    {FileId::kEfKeysPs, 0x6F09, FileId::kAdfUsim, Structure::kTransparent, ContentId::kKeysPs, 0x09, kReadPinUpdatePin,
     0},
    {FileId::kEfSpn, 0x6F46, FileId::kAdfUsim, Structure::kTransparent, ContentId::kSpn, 0, kReadAlwaysUpdateAdm, 0},
    {FileId::kEfMsisdn, 0x6F40, FileId::kAdfUsim, Structure::kLinearFixed, ContentId::kMsisdn, 0, kReadPinUpdatePin,
     kMsisdnRecordSize},
};

// kFiles is indexed by FileId.
constexpr bool TableInFileIdOrder() {
  for (std::size_t i = 0; i < std::size(kFiles); ++i) {
    if (static_cast<std::size_t>(kFiles[i].id) != i) return false;
  }
  return std::size(kFiles) == static_cast<std::size_t>(FileId::kEfMsisdn) + 1;
}
static_assert(TableInFileIdOrder());

const FileSpec& Spec(FileId f) { return kFiles[static_cast<std::size_t>(f)]; }

// The distinct EF rules, in the order of their EF_ARR records (2, 3, ...).
constexpr AccessRule kArrRules[] = {kReadAlwaysUpdateNever, kReadAlwaysUpdateAdm, kReadPinUpdateAdm,
                                    kReadPinUpdatePin, kImsiRule};

constexpr bool EveryRuleHasAnArrRecord() {
  for (const FileSpec& f : kFiles) {
    if (f.structure == Structure::kDf) continue;
    bool found = false;
    for (const AccessRule& r : kArrRules) found = found || r == f.rule;
    if (!found) return false;
  }
  return true;
}
static_assert(EveryRuleHasAnArrRecord());

// The card keeps no "deactivated" state (card.cc FileStateCommand): that holds
// only while no file can be deactivated over this interface.
constexpr bool NoFileCanBeDeactivated() {
  for (const AccessRule& r : kArrRules) {
    if (r.deactivate != Access::kAdm && r.deactivate != Access::kNever) return false;
  }
  return true;
}
static_assert(NoFileCanBeDeactivated());

// Access condition nibbles of TS 51.011 §9.3: ALW, CHV1, ADM, NEV.
uint8_t GsmNibble(Access a) {
  switch (a) {
    case kAlways: return 0x0;
    case kPin1: return 0x1;
    case kAdm: return 0x4;
    case kNever: return 0xF;
  }
  return 0xF;
}

// An ARR record (TS 102 221 §9.2.5; ISO 7816-4 access mode bytes): one AM_DO
// (80) per condition with the operations it governs, each followed by its
// security condition: 90 00 always, 97 00 never, A4 (CRT: key reference 83,
// usage qualifier 95 08 = user verification) PIN1 (01) or ADM1 (0A).
Bytes ArrRecord(const std::array<std::pair<uint8_t, Access>, 4>& ops) {
  Bytes out;
  for (Access condition : {kAlways, kPin1, kAdm, kNever}) {
    uint8_t am = 0;
    for (const auto& [bit, access] : ops) {
      if (access == condition) am |= bit;
    }
    if (am == 0) continue;
    AppendTlv(out, 0x80, ByteView(&am, 1));
    if (condition == kAlways) {
      AppendTlv(out, 0x90, {});
    } else if (condition == kNever) {
      AppendTlv(out, 0x97, {});
    } else {
      Bytes crt;
      const uint8_t key[] = {static_cast<uint8_t>(condition == kPin1 ? 0x01 : 0x0A)};
      AppendTlv(crt, 0x83, key);
      const uint8_t usage[] = {0x08};
      AppendTlv(crt, 0x95, usage);
      AppendTlv(out, 0xA4, crt);
    }
  }
  return out;
}

std::vector<Bytes> ArrRecords() {
  std::vector<Bytes> records;
  // DFs: DELETE child (b1), CREATE EF/DF (b2, b3), DEACTIVATE (b4), ACTIVATE
  // (b5), TERMINATE (b6), DELETE (b7) are the administrator's.
  records.push_back(ArrRecord({{{0x7F, kAdm}, {0, kNever}, {0, kNever}, {0, kNever}}}));
  // EFs: READ (b1), UPDATE (b2), DEACTIVATE (b4), ACTIVATE (b5).
  for (const AccessRule& r : kArrRules) {
    records.push_back(ArrRecord({{{0x01, r.read}, {0x02, r.update}, {0x08, r.deactivate}, {0x10, r.activate}}}));
  }
  return records;
}

std::size_t ArrRecordSize() {
  std::size_t size = 0;
  for (const Bytes& r : ArrRecords()) size = std::max(size, r.size());
  return size;
}

// Services as a bit string: service n is bit (n-1) of byte (n-1)/8 (EF_UST,
// TS 31.102 §4.2.8), or, with two bits per service (allocated, activated),
// bits 2(n-1) and 2(n-1)+1 (EF_SST, TS 51.011 §10.3.7).
Bytes ServiceTable(std::initializer_list<int> services, int bits_per_service) {
  int highest = 0;
  for (int s : services) highest = std::max(highest, s);
  Bytes out(static_cast<std::size_t>((highest * bits_per_service + 7) / 8), 0x00);
  for (int s : services) {
    for (int b = 0; b < bits_per_service; ++b) {
      const int bit = (s - 1) * bits_per_service + b;
      out[static_cast<std::size_t>(bit / 8)] |= static_cast<uint8_t>(1 << (bit % 8));
    }
  }
  return out;
}

// The services this card has (and only those):
//   USIM (TS 31.102 §4.2.8): 19 SPN, 21 MSISDN, 28 data download via SMS-PP
//   (the applet's SMS-PP download), 30 call control by USIM (the applet's CALL
//   CONTROL envelope), 33 packet switched domain (EF_PSLOCI, EF_KEYSPS; the
//   spec says it shall be set), 38 GSM security context (AUTHENTICATE P2 80).
//   SIM (TS 51.011 §10.3.7): 1 CHV1 disable, 9 MSISDN, 17 SPN, 26 SMS-PP data
//   download, 27 menu selection, 28 call control, 29 proactive SIM.
// Not: GSM access (27: no EF_Kc), MO-SMS control, SMS storage, phone books.
Bytes UstContents() { return ServiceTable({19, 21, 28, 30, 33, 38}, 1); }
Bytes SstContents() { return ServiceTable({1, 9, 17, 26, 27, 28, 29}, 2); }

// EF_ACC (TS 31.102 §4.2.15, TS 22.011 §4.2): the access class is the IMSI's
// last digit (0..9); class n is bit n%8 of byte 2 (n < 8) or byte 1.
Bytes AccContents(const ChipState& s) {
  const std::string imsi = s.imsi();
  const int n = imsi.empty() ? 0 : imsi.back() - '0';
  Bytes out{0x00, 0x00};
  out[n < 8 ? 1 : 0] = static_cast<uint8_t>(1 << (n % 8));
  return out;
}

// EF_DIR record (TS 102 221 §13.1): application template 61 with the AID (4F)
// and a label (50), padded with FF.
Bytes DirContents() {
  Bytes body;
  AppendTlv(body, 0x4F, kUsimAid);
  const char label[] = "USIM";
  AppendTlv(body, 0x50, AsBytes(std::string_view(label)));
  Bytes record = MakeTlv(0x61, body);
  record.resize(kDirRecordSize, 0xFF);
  return record;
}

// No location known yet: TMSI / P-TMSI FF, the LAI's LAC "deleted" (FFFE,
// TS 24.008 §10.5.1.3) with no PLMN, status "not updated" (01).
Bytes LociContents() { return {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0x01}; }
Bytes PslociContents() {
  return {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0x01};
}
// KSI 07: no key available (TS 24.008 §10.5.1.2); CK and IK unset.
Bytes KeysContents() {
  Bytes out(33, 0xFF);
  out[0] = 0x07;
  return out;
}
// EF_SPN (TS 31.102 §4.2.12): display condition 00, the name in the GSM
// default alphabet (8-bit), FF padded to 16.
Bytes SpnContents() {
  Bytes out{0x00};
  const std::string_view name = "simkms";
  out.insert(out.end(), name.begin(), name.end());
  out.resize(17, 0xFF);
  return out;
}

void Put16(Bytes& out, std::size_t value) {
  out.push_back(static_cast<uint8_t>(value >> 8));
  out.push_back(static_cast<uint8_t>(value));
}

std::size_t EfSize(FileId f, const ChipState& s) { return InitialContents(ContentOf(f), s).size(); }

bool VisibleInGsm(FileId f) { return f != FileId::kAdfUsim && Spec(f).parent != FileId::kAdfUsim; }

}  // namespace

bool IsDf(FileId f) { return Spec(f).structure == Structure::kDf; }
uint16_t Fid(FileId f) { return Spec(f).fid; }
FileId ParentDf(FileId f) { return Spec(f).parent; }
Structure StructureOf(FileId f) { return Spec(f).structure; }
ContentId ContentOf(FileId f) { return Spec(f).content; }
AccessRule RuleOf(FileId f) { return Spec(f).rule; }

std::size_t RecordSize(FileId f) {
  if (Spec(f).structure != Structure::kLinearFixed) return 0;
  return f == FileId::kEfArr ? ArrRecordSize() : Spec(f).record_size;
}

Bytes InitialContents(ContentId c, const ChipState& s) {
  switch (c) {
    case ContentId::kDir: return DirContents();
    case ContentId::kIccid: return Bytes(s.ef_iccid.begin(), s.ef_iccid.end());
    case ContentId::kArr: {
      const std::size_t size = ArrRecordSize();
      Bytes out;
      for (Bytes r : ArrRecords()) {
        r.resize(size, 0xFF);
        out.insert(out.end(), r.begin(), r.end());
      }
      return out;
    }
    case ContentId::kImsi: return Bytes(s.ef_imsi.begin(), s.ef_imsi.end());
    // EF_AD (TS 31.102 §4.2.18): normal operation, no additional information,
    // the MNC length.
    case ContentId::kAd: return {0x00, 0x00, 0x00, static_cast<uint8_t>(s.mnc_length)};
    case ContentId::kSst: return SstContents();
    case ContentId::kUst: return UstContents();
    case ContentId::kAcc: return AccContents(s);
    case ContentId::kLoci: return LociContents();
    case ContentId::kPsloci: return PslociContents();
    case ContentId::kKeys:
    case ContentId::kKeysPs: return KeysContents();
    case ContentId::kSpn: return SpnContents();
    // The card does not know its number (the network assigns it): one empty record.
    case ContentId::kMsisdn: return Bytes(kMsisdnRecordSize, 0xFF);
  }
  return {};
}

namespace {

struct WritableContent {
  ContentId content;
  std::string_view name;
};
// Exactly the contents of the EFs whose UPDATE condition is PIN1 (checked by
// test CardFileSystem.TerminalWritesPersistInTheImage).
constexpr WritableContent kWritableContents[] = {
    {ContentId::kLoci, "loci"}, {ContentId::kPsloci, "psloci"}, {ContentId::kKeys, "keys"},
    {ContentId::kKeysPs, "keys_ps"}, {ContentId::kMsisdn, "msisdn"},
};

}  // namespace

std::optional<std::string_view> WritableContentName(ContentId content) {
  for (const WritableContent& w : kWritableContents) {
    if (w.content == content) return w.name;
  }
  return std::nullopt;
}

std::optional<ContentId> WritableContentByName(std::string_view name) {
  for (const WritableContent& w : kWritableContents) {
    if (w.name == name) return w.content;
  }
  return std::nullopt;
}

Bytes CurrentContents(ContentId content, const ChipState& state) {
  if (auto name = WritableContentName(content)) {
    auto it = state.terminal_writes.find(std::string(*name));
    if (it != state.terminal_writes.end()) return Bytes(it->second.reveal().begin(), it->second.reveal().end());
  }
  return InitialContents(content, state);
}

Status ValidateTerminalWrites(const ChipState& state) {
  for (const auto& [name, contents] : state.terminal_writes) {
    auto content = WritableContentByName(name);
    if (!content) return DataLossError("terminal write to '" + name + "', which is not a file a terminal may update");
    const std::size_t size = InitialContents(*content, state).size();
    if (contents.size() != size) {
      return DataLossError("terminal write to '" + name + "' is " + std::to_string(contents.size()) +
                           " bytes; the file has " + std::to_string(size));
    }
  }
  return OkStatus();
}

uint8_t ArrRecordOf(FileId f) {
  if (IsDf(f)) return 1;
  const AccessRule rule = RuleOf(f);
  for (std::size_t i = 0; i < std::size(kArrRules); ++i) {
    if (kArrRules[i] == rule) return static_cast<uint8_t>(i + 2);
  }
  return 0;  // unreachable: every EF's rule is in kArrRules (static_assert above)
}

std::optional<FileId> SelectByFid(FileId current, uint16_t fid, bool gsm, bool usim_active) {
  if (fid == 0x3F00) return FileId::kMf;
  if (fid == 0x7FFF) {
    if (gsm || !usim_active) return std::nullopt;
    return FileId::kAdfUsim;
  }
  const FileId dir = IsDf(current) ? current : ParentDf(current);
  // The ADF is not reachable by a FID of its own (only 7FFF); the GSM command
  // set sees neither it nor its files.
  auto reachable = [&](const FileSpec& f) {
    if (f.id == FileId::kAdfUsim || f.id == FileId::kMf) return false;
    if (gsm && !VisibleInGsm(f.id)) return false;
    return f.fid == fid;
  };
  // Children of the current DF first, then the DF itself, its parent, and the
  // parent's DFs (TS 102 221 §8.4.1).
  for (const FileSpec& f : kFiles) {
    if (f.parent == dir && reachable(f)) return f.id;
  }
  if (reachable(Spec(dir))) return dir;
  if (dir != FileId::kMf) {
    const FileId parent = ParentDf(dir);
    if (reachable(Spec(parent))) return parent;
    for (const FileSpec& f : kFiles) {
      if (f.structure == Structure::kDf && f.parent == parent && reachable(f)) return f.id;
    }
  }
  return std::nullopt;
}

std::optional<FileId> ChildByFid(FileId dir, uint16_t fid, bool usim_active) {
  if (!IsDf(dir)) return std::nullopt;
  if (dir == FileId::kMf && fid == 0x7FFF) return usim_active ? std::optional(FileId::kAdfUsim) : std::nullopt;
  for (const FileSpec& f : kFiles) {
    if (f.id != FileId::kMf && f.id != FileId::kAdfUsim && f.parent == dir && f.fid == fid) return f.id;
  }
  return std::nullopt;
}

std::optional<FileId> SelectBySfi(FileId current, uint8_t sfi) {
  const FileId dir = IsDf(current) ? current : ParentDf(current);
  if (sfi == 0) return std::nullopt;
  for (const FileSpec& f : kFiles) {
    if (f.structure != Structure::kDf && f.parent == dir && f.sfi == sfi) return f.id;
  }
  return std::nullopt;
}

Bytes Fcp(FileId f, const ChipState& s) {
  Bytes body;
  const uint16_t fid = Fid(f);
  const uint8_t fid_bytes[] = {static_cast<uint8_t>(fid >> 8), static_cast<uint8_t>(fid)};
  const uint8_t lcsi[] = {0x05};  // operational state, activated
  // Security attributes, referenced format: EF_ARR 2F06 and the record.
  const uint8_t arr[] = {0x2F, 0x06, ArrRecordOf(f)};
  if (IsDf(f)) {
    const uint8_t descriptor[] = {0x78, 0x21};  // DF or ADF, shareable; data coding 21
    AppendTlv(body, 0x82, descriptor);
    AppendTlv(body, 0x83, fid_bytes);
    if (f == FileId::kAdfUsim) AppendTlv(body, 0x84, kUsimAid);
    AppendTlv(body, 0x8A, lcsi);
    AppendTlv(body, 0x8B, arr);
    // PIN status template DO (TS 102 221 §9.5.2): PS_DO bit 8 = key reference
    // 01 (PIN1, our CHV1) enabled; the key reference it covers.
    Bytes pin_status;
    const uint8_t ps_do[] = {static_cast<uint8_t>(s.pin_enabled ? 0x80 : 0x00)};
    AppendTlv(pin_status, 0x90, ps_do);
    const uint8_t key_ref[] = {0x01};
    AppendTlv(pin_status, 0x83, key_ref);
    AppendTlv(body, 0xC6, pin_status);
    return MakeTlv(0x62, body);
  }
  const std::size_t size = EfSize(f, s);
  if (StructureOf(f) == Structure::kLinearFixed) {
    // Linear fixed, shareable; data coding 21; record length (2 bytes); number
    // of records (TS 102 221 §11.1.1.4.3).
    const std::size_t record = RecordSize(f);
    const uint8_t descriptor[] = {0x42, 0x21, static_cast<uint8_t>(record >> 8), static_cast<uint8_t>(record),
                                  static_cast<uint8_t>(size / record)};
    AppendTlv(body, 0x82, descriptor);
  } else {
    const uint8_t descriptor[] = {0x41, 0x21};  // working EF, transparent, shareable
    AppendTlv(body, 0x82, descriptor);
  }
  AppendTlv(body, 0x83, fid_bytes);
  AppendTlv(body, 0x8A, lcsi);
  AppendTlv(body, 0x8B, arr);
  Bytes size_bytes;
  Put16(size_bytes, size);
  AppendTlv(body, 0x80, size_bytes);
  // SFI in bits 8..4; an empty 88 means the EF has none.
  const uint8_t sfi = static_cast<uint8_t>(Spec(f).sfi << 3);
  AppendTlv(body, 0x88, sfi != 0 ? ByteView(&sfi, 1) : ByteView());
  return MakeTlv(0x62, body);
}

Bytes GsmSelectResponse(FileId f, const ChipState& s) {
  Bytes out{0x00, 0x00};
  if (IsDf(f)) {
    Put16(out, 0);  // free memory: none to allocate
    Put16(out, Fid(f));
    out.push_back(f == FileId::kMf ? 0x01 : 0x02);
    out.insert(out.end(), 5, 0x00);
    out.push_back(0x09);  // GSM specific data: bytes 14..22
    // File characteristics: b1 clock stop allowed; b5 3 V and b6 1.8 V
    // technology (not a 5 V card, TS 51.011 §9.2.1); b8 CHV1 disabled.
    out.push_back(static_cast<uint8_t>(0x01 | 0x10 | 0x20 | (s.pin_enabled ? 0x00 : 0x80)));
    uint8_t dfs = 0, efs = 0;
    for (const FileSpec& c : kFiles) {
      if (c.id == FileId::kMf || !VisibleInGsm(c.id) || c.parent != f) continue;
      (c.structure == Structure::kDf ? dfs : efs)++;
    }
    out.push_back(dfs);
    out.push_back(efs);
    out.push_back(0x02);  // CHV1 and UNBLOCK CHV1
    out.push_back(0x00);
    // Status bytes: b8 secret code initialised, b4..b1 false presentations left.
    out.push_back(static_cast<uint8_t>(0x80 | s.pin.tries_left()));
    out.push_back(static_cast<uint8_t>(0x80 | s.puk.tries_left()));
    out.push_back(0x00);  // CHV2: not initialised
    out.push_back(0x00);  // UNBLOCK CHV2
    return out;
  }
  const AccessRule rule = RuleOf(f);
  Put16(out, EfSize(f, s));
  Put16(out, Fid(f));
  out.push_back(0x04);  // EF
  out.push_back(0x00);
  out.push_back(static_cast<uint8_t>((GsmNibble(rule.read) << 4) | GsmNibble(rule.update)));
  out.push_back(static_cast<uint8_t>(GsmNibble(kNever) << 4));  // INCREASE: never | RFU
  out.push_back(static_cast<uint8_t>((GsmNibble(rule.activate) << 4) | GsmNibble(rule.deactivate)));  // REHABILITATE | INVALIDATE
  out.push_back(0x01);  // not invalidated
  out.push_back(0x02);  // bytes 14..15
  const bool linear = StructureOf(f) == Structure::kLinearFixed;
  out.push_back(linear ? 0x01 : 0x00);  // transparent / linear fixed
  out.push_back(static_cast<uint8_t>(RecordSize(f)));
  return out;
}

}  // namespace simkms::chip
