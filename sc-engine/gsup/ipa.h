// IPA framing as osmo-hlr speaks it on its GSUP port (docs/gsup.md §2):
//
//   frame     | length (2, BE) | stream id (1) | payload (length bytes) |
//   CCM       stream 0xFE, payload = CCM type (1) ...      PING 00, PONG 01, ID_GET 04, ID_RESP 05, ID_ACK 06
//   GSUP      stream 0xEE, payload = extension 0x05 (1) | GSUP message (see gsup.h)
//
// `length` counts the payload only (not the 3-byte header). This decoder refuses
// a zero length and a length over kMaxIpaPayload (16 KiB; libosmocore's own
// receiver stops at 1200 bytes per frame, a 5-vector result is 518).
// No I/O here: the caller reads the socket and feeds the bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/length_prefixed_decoder.h"
#include "base/status.h"

namespace simkms::gsup {

inline constexpr std::size_t kIpaHeaderSize = 3;
inline constexpr std::size_t kMaxIpaPayload = 16 * 1024;

inline constexpr uint8_t kStreamCcm = 0xFE;   // IPAC_PROTO_IPACCESS
inline constexpr uint8_t kStreamOsmo = 0xEE;  // IPAC_PROTO_OSMO
inline constexpr uint8_t kOsmoExtGsup = 0x05; // IPAC_PROTO_EXT_GSUP

enum class CcmType : uint8_t {
  kPing = 0x00,
  kPong = 0x01,
  kIdGet = 0x04,
  kIdResp = 0x05,
  kIdAck = 0x06,
};

// IPA CCM identity tags (IPAC_IDTAG_*), the ones osmo-hlr asks for.
enum class IdTag : uint8_t {
  kSerNr = 0x00,      // the peer's name: osmo-hlr's IND key and GSUP route
  kUnitName = 0x01,
  kLocation1 = 0x02,
  kLocation2 = 0x03,
  kEquipVers = 0x04,
  kSwVersion = 0x05,
  kMacAddr = 0x07,
  kUnit = 0x08,       // "site/bts/trx"; mandatory in an ID_RESP
};

struct IpaFrame {
  uint8_t stream = 0;
  Bytes payload;  // 1..kMaxIpaPayload bytes
  bool operator==(const IpaFrame&) const = default;
};

// | length | stream | payload |. InvalidArgument for an empty payload or one over kMaxIpaPayload.
StatusOr<Bytes> EncodeIpaFrame(uint8_t stream, ByteView payload);
// | length | EE | 05 | gsup_message |. InvalidArgument for an empty message or a frame over the bound.
StatusOr<Bytes> EncodeGsupFrame(ByteView gsup_message);

// Fixed CCM frames.
Bytes EncodePing();   // 00 01 fe 00
Bytes EncodePong();   // 00 01 fe 01
Bytes EncodeIdAck();  // 00 01 fe 06 (osmo-hlr never sends it; for clients)
// What osmo-hlr sends right after accept(): ID_GET for UNIT, MACADDR, LOCATION1,
// LOCATION2, EQUIPVERS, SWVERSION, UNITNAME, SERNR (each entry | len=1 | tag |):
//   00 11 fe 04 01 08 01 07 01 02 01 03 01 04 01 05 01 01 01 00
Bytes EncodeIdGet();

// One ID_RESP entry, encoded | len (2, BE) = 1 + size + 1 | tag | value | 00 |.
struct IdEntry {
  IdTag tag = IdTag::kUnit;
  std::string value;  // no NUL inside
};
// The whole frame: | length | fe | 05 | entries... | (what a client such as
// libosmo-gsup-client answers to ID_GET). InvalidArgument for a NUL in a value
// or a frame over the bound.
StatusOr<Bytes> EncodeIdResp(const std::vector<IdEntry>& entries);

// The identity a peer announced in its ID_RESP.
struct IpaIdentity {
  std::string unit;    // UNIT (0x08), may be "" (sent as a lone NUL)
  std::string serial;  // SERNR (0x00), may be "" (what libosmo-gsup-client sends without an IPA name)
  bool operator==(const IpaIdentity&) const = default;
};

// Parses the body of an ID_RESP: the CCM payload after the type byte 0x05.
// Entries are | len (2, BE) | tag | value (len - 1 bytes) |; a value is a C
// string, its one trailing NUL is dropped (a value without NUL is accepted).
// Like osmo-hlr (libosmo-abis ipa_server_conn_ccm + osmo_gsup_server_ccm_cb)
// it refuses an ID_RESP without UNIT or without SERNR, or with either of them
// carrying no value byte at all (len field 1) - osmo-hlr drops such a
// connection. Stricter than libosmocore: an entry with length 0, an entry
// running past the end, trailing bytes too short for an entry, a repeated UNIT
// or SERNR, a NUL before the end of their value or a control character in it
// are refused too (InvalidArgument). Other tags are skipped.
StatusOr<IpaIdentity> ParseIdResp(ByteView body);

// What a frame is, for dispatch on a server. `body` points into the frame:
// for kIdResp the bytes after the CCM type, for kGsup the GSUP message (not empty).
struct Classified {
  enum class Kind {
    kPing,
    kPong,
    kIdGet,
    kIdResp,
    kIdAck,
    kOtherCcm,        // another CCM type (osmo-hlr logs and ignores it)
    kGsup,
    kOtherExtension,  // stream 0xEE with an extension other than GSUP (osmo-hlr ignores OAP 0x06, drops others)
    kOtherStream,     // neither 0xFE nor 0xEE (osmo-hlr drops the message)
  };
  Kind kind = Kind::kOtherStream;
  uint8_t code = 0;  // the CCM type, the extension byte or the stream id
  ByteView body;
};
// InvalidArgument for an empty payload (IpaDecoder never yields one) and for a
// GSUP frame with no GSUP message after the 0x05 extension byte.
StatusOr<Classified> ClassifyFrame(const IpaFrame& frame);

// Incremental decoder for one TCP connection: base/length_prefixed_decoder.h
// with the IPA header (Feed, idle and Reset as there; Pop splits the frame into
// stream and payload). It holds at most one frame (<= kIpaHeaderSize +
// kMaxIpaPayload bytes). The length is checked as soon as its two bytes are in,
// before any payload is buffered: 0 gives InvalidArgument, over kMaxIpaPayload
// ResourceExhausted, and Feed() keeps returning that error until Reset().
class IpaDecoder {
 public:
  IpaDecoder();
  StatusOr<std::size_t> Feed(ByteView data) { return frames_.Feed(data); }
  std::optional<IpaFrame> Pop();
  bool idle() const { return frames_.idle(); }
  void Reset() { frames_.Reset(); }

 private:
  LengthPrefixedDecoder frames_;
};

}  // namespace simkms::gsup
