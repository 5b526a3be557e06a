#include "tools/chipsim/card_files.h"

#include <array>
#include <iterator>

#include "tools/chipsim/tlv.h"

namespace simkms::chip {
namespace {

constexpr std::array<FileId, 7> kAll = {FileId::kMf,      FileId::kEfIccid, FileId::kDfTelecom, FileId::kDfGsm,
                                        FileId::kEfImsiGsm, FileId::kAdfUsim, FileId::kEfImsiUsim};

// Access condition nibbles of TS 51.011 §9.3: ALW, CHV1, ADM, NEV.
constexpr uint8_t kAlw = 0x0, kChv1 = 0x1, kAdm = 0x4, kNev = 0xF;

void Put16(Bytes& out, std::size_t value) {
  out.push_back(static_cast<uint8_t>(value >> 8));
  out.push_back(static_cast<uint8_t>(value));
}

// The SFI an EF can be read by (TS 102 221 §8.3, TS 31.102 §4.2), 0 = none.
uint8_t Sfi(FileId file) {
  switch (file) {
    case FileId::kEfIccid: return 0x02;
    case FileId::kEfImsiUsim: return 0x07;
    default: return 0;
  }
}

}  // namespace

bool IsDf(FileId f) {
  return f == FileId::kMf || f == FileId::kDfTelecom || f == FileId::kDfGsm || f == FileId::kAdfUsim;
}

uint16_t Fid(FileId f) {
  switch (f) {
    case FileId::kMf: return 0x3F00;
    case FileId::kEfIccid: return 0x2FE2;
    case FileId::kDfTelecom: return 0x7F10;
    case FileId::kDfGsm: return 0x7F20;
    case FileId::kEfImsiGsm: return 0x6F07;
    case FileId::kAdfUsim: return 0x7FFF;
    case FileId::kEfImsiUsim: return 0x6F07;
  }
  return 0;
}

FileId ParentDf(FileId f) {
  switch (f) {
    case FileId::kEfImsiGsm: return FileId::kDfGsm;
    case FileId::kEfImsiUsim: return FileId::kAdfUsim;
    default: return FileId::kMf;
  }
}

std::size_t EfSize(FileId f) {
  switch (f) {
    case FileId::kEfIccid: return std::tuple_size_v<EfIccid>;
    case FileId::kEfImsiGsm:
    case FileId::kEfImsiUsim: return std::tuple_size_v<EfImsi>;
    default: return 0;
  }
}

bool EfNeedsChv1(FileId f) { return f == FileId::kEfImsiGsm || f == FileId::kEfImsiUsim; }

Bytes EfContents(FileId f, const ChipState& s) {
  switch (f) {
    case FileId::kEfIccid: return Bytes(s.ef_iccid.begin(), s.ef_iccid.end());
    case FileId::kEfImsiGsm:
    case FileId::kEfImsiUsim: return Bytes(s.ef_imsi.begin(), s.ef_imsi.end());
    default: return {};
  }
}

std::optional<FileId> SelectByFid(FileId current, uint16_t fid, bool gsm, bool usim_active) {
  if (fid == 0x3F00) return FileId::kMf;
  if (fid == 0x7FFF) {
    if (gsm || !usim_active) return std::nullopt;
    return FileId::kAdfUsim;
  }
  const FileId dir = IsDf(current) ? current : ParentDf(current);
  // The ADF is not reachable by a FID of its own (only 7FFF), and not at all
  // from the GSM command set.
  auto reachable = [&](FileId f) {
    if (f == FileId::kAdfUsim) return false;
    if (gsm && (f == FileId::kEfImsiUsim)) return false;
    return Fid(f) == fid;
  };
  // Children of the current DF first, then the DF itself, its parent, and the
  // parent's DFs (TS 102 221 §8.4.1).
  for (FileId f : kAll) {
    if (f != FileId::kMf && ParentDf(f) == dir && reachable(f)) return f;
  }
  if (reachable(dir)) return dir;
  if (dir != FileId::kMf) {
    const FileId parent = ParentDf(dir);
    if (reachable(parent)) return parent;
    for (FileId f : kAll) {
      if (f != FileId::kMf && IsDf(f) && ParentDf(f) == parent && reachable(f)) return f;
    }
  }
  return std::nullopt;
}

std::optional<FileId> ChildByFid(FileId dir, uint16_t fid, bool usim_active) {
  if (!IsDf(dir)) return std::nullopt;
  if (dir == FileId::kMf && fid == 0x7FFF) return usim_active ? std::optional(FileId::kAdfUsim) : std::nullopt;
  for (FileId f : kAll) {
    if (f != FileId::kMf && f != FileId::kAdfUsim && ParentDf(f) == dir && Fid(f) == fid) return f;
  }
  return std::nullopt;
}

std::optional<FileId> SelectBySfi(FileId current, uint8_t sfi) {
  const FileId dir = IsDf(current) ? current : ParentDf(current);
  if (sfi == Sfi(FileId::kEfIccid)) return FileId::kEfIccid;
  if (sfi == Sfi(FileId::kEfImsiUsim) && dir == FileId::kAdfUsim) return FileId::kEfImsiUsim;
  return std::nullopt;
}

Bytes Fcp(FileId f, const ChipState& s) {
  Bytes body;
  const uint16_t fid = Fid(f);
  const uint8_t fid_bytes[] = {static_cast<uint8_t>(fid >> 8), static_cast<uint8_t>(fid)};
  const uint8_t lcsi[] = {0x05};  // operational state, activated
  if (IsDf(f)) {
    const uint8_t descriptor[] = {0x78, 0x21};  // DF or ADF, shareable; data coding 21
    AppendTlv(body, 0x82, descriptor);
    AppendTlv(body, 0x83, fid_bytes);
    if (f == FileId::kAdfUsim) AppendTlv(body, 0x84, kUsimAid);
    AppendTlv(body, 0x8A, lcsi);
    const uint8_t arr[] = {0x2F, 0x06, 0x01};  // security attributes: EF_ARR record 1
    AppendTlv(body, 0x8B, arr);
    // PIN status template DO (TS 102 221 §9.5.2): PS_DO bit 8 = key reference
    // 01 (PIN1, our CHV1) enabled; the key reference it covers.
    Bytes pin_status;
    const uint8_t ps_do[] = {static_cast<uint8_t>(s.pin_enabled ? 0x80 : 0x00)};
    AppendTlv(pin_status, 0x90, ps_do);
    const uint8_t key_ref[] = {0x01};
    AppendTlv(pin_status, 0x83, key_ref);
    AppendTlv(body, 0xC6, pin_status);
  } else {
    const uint8_t descriptor[] = {0x41, 0x21};  // working EF, transparent, shareable
    AppendTlv(body, 0x82, descriptor);
    AppendTlv(body, 0x83, fid_bytes);
    AppendTlv(body, 0x8A, lcsi);
    const uint8_t arr[] = {0x2F, 0x06, static_cast<uint8_t>(EfNeedsChv1(f) ? 0x03 : 0x02)};
    AppendTlv(body, 0x8B, arr);
    Bytes size;
    Put16(size, EfSize(f));
    AppendTlv(body, 0x80, size);
    // SFI in bits 8..4; an empty 88 means the EF has none.
    const uint8_t sfi = static_cast<uint8_t>(Sfi(f) << 3);
    AppendTlv(body, 0x88, sfi != 0 ? ByteView(&sfi, 1) : ByteView());
  }
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
    // File characteristics: b1 clock stop allowed; b8 CHV1 disabled.
    out.push_back(static_cast<uint8_t>(0x01 | (s.pin_enabled ? 0x00 : 0x80)));
    uint8_t dfs = 0, efs = 0;
    for (FileId c : kAll) {
      if (c == FileId::kMf || c == FileId::kAdfUsim || c == FileId::kEfImsiUsim || ParentDf(c) != f) continue;
      (IsDf(c) ? dfs : efs)++;
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
  Put16(out, EfSize(f));
  Put16(out, Fid(f));
  out.push_back(0x04);  // EF
  out.push_back(0x00);
  const bool chv1 = EfNeedsChv1(f);
  out.push_back(static_cast<uint8_t>(((chv1 ? kChv1 : kAlw) << 4) | (chv1 ? kAdm : kNev)));  // READ | UPDATE
  out.push_back(static_cast<uint8_t>(kNev << 4));                                            // INCREASE | RFU
  out.push_back(static_cast<uint8_t>((kAdm << 4) | kAdm));  // REHABILITATE | INVALIDATE
  out.push_back(0x01);                                      // not invalidated
  out.push_back(0x02);                                      // bytes 14..15
  out.push_back(0x00);                                      // transparent
  out.push_back(0x00);                                      // no records
  return out;
}

}  // namespace simkms::chip
