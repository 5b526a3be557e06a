// A secured packet in SMS (docs/protocol.md §7.1): the TP-User-Data of each SMS,
// with its User Data Header (TS 23.040 §9.2.3.24), and the SMS-DELIVER /
// SMS-SUBMIT TPDUs (TS 23.040 §9.2.2.1 / §9.2.2.2) that carry it, 8-bit data only.
//
//   single SMS:          UDHL=02 | 70 00                   | packet (1..137 bytes)
//   concatenated, seq 1: UDHL=07 | 00 03 ref total 01 | 70 00 | packet bytes (132)
//   concatenated, seq n: UDHL=05 | 00 03 ref total n          | packet bytes (<= 134)
//
// IEI 0x70 (command packet identifier, TS 31.115) is in the first SMS only; IEI
// 0x00 (concatenated SM, 8-bit reference) in every SMS of a concatenated packet.
// IEI 0x08 (concatenated SM, 16-bit reference, 08 04 ref-hi ref-lo total seq,
// TS 23.040 §9.2.3.24.8) may stand in its place: an SMSC or a handset may use it.
// Both are received; Split sends the 8-bit form (one byte more per SMS for the packet),
// SplitWithSixteenBitReference the other.
// Pure functions and a bounded reassembler; no I/O, no clock, no crypto.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "sc-engine/protocol/secured_packet.h"

namespace simkms::protocol {

inline constexpr std::size_t kMaxUserDataSize = 140;  // TP-UD of one SMS, 8-bit data, incl. UDHL
inline constexpr std::size_t kMaxSegments = 16;       // 132 + 15 * 134 >= kMaxPacketSize
inline constexpr std::size_t kSingleSmsCapacity = 137;     // 140 - UDHL - (70 00)
inline constexpr std::size_t kFirstSegmentCapacity = 132;  // 140 - UDHL - (00 03 r t s) - (70 00)
inline constexpr std::size_t kOtherSegmentCapacity = 134;  // 140 - UDHL - (00 03 r t s)
inline constexpr uint8_t kIeiConcatenated8 = 0x00;
inline constexpr uint8_t kIeiConcatenated16 = 0x08;
inline constexpr uint8_t kIeiCommandPacket = 0x70;

// The TP-User-Data of each SMS for `packet`, in sequence order: one element if
// the packet fits 137 bytes (no concatenation header), else 2..16 with the
// concatenation header carrying `reference`. InvalidArgument if the packet is
// empty or longer than kMaxPacketSize. Every element is at most 140 bytes.
StatusOr<std::vector<Bytes>> Split(ByteView packet, uint8_t reference);
// The same with IEI 0x08 (16-bit reference) in place of IEI 0x00: 131 bytes in the
// first SMS and 133 in each further one. What an SMSC or a handset may send.
StatusOr<std::vector<Bytes>> SplitWithSixteenBitReference(ByteView packet, uint16_t reference);

// What one SMS's user data header says, and its share of the packet.
struct Segment {
  bool concatenated = false;   // carries IEI 0x00 or 0x08
  bool reference_16bit = false;  // IEI 0x08: a reference space of its own
  uint16_t reference = 0;      // concatenated only
  uint8_t total = 1;           // 1 for a single SMS
  uint8_t sequence = 1;        // 1-based
  bool command_packet = false; // carries IEI 0x70
  Bytes data;                  // the bytes after the UDH
  bool operator==(const Segment&) const = default;
};
// Parses the TP-User-Data of one SMS (UDHL .. end, at most 140 bytes). Unknown
// IEs are skipped (TS 23.040 §9.2.3.24); refused with InvalidArgument: a header
// running past the data, IEI 0x70 or a concatenation IEI (0x00, 0x08) repeated or
// with a wrong length, both concatenation IEIs in one header, total 0 or above
// kMaxSegments, sequence 0 or
// above total, IEI 0x70 missing from the first SMS or present in a later one,
// and no packet bytes after the header.
StatusOr<Segment> ParseSegment(ByteView user_data);

// Reassembles the packets of ONE sender (the caller keeps one Reassembler per
// originating address / IMSI). Segments may arrive in any order and messages
// with different references may interleave; at most kMaxPendingMessages
// incomplete messages are kept, the least recently touched one is dropped to
// make room (a lost segment must not block the next packet, docs §6), so memory
// is bounded by about kMaxPendingMessages * kMaxPacketSize.
class Reassembler {
 public:
  static constexpr std::size_t kMaxPendingMessages = 4;

  // Returns the packet once its last segment arrives (a single SMS at once),
  // nullopt while segments are missing. Errors:
  //   InvalidArgument    malformed (ParseSegment), or its total differs from the
  //                      segments already held for its reference: nothing changes;
  //   AlreadyExists      a duplicate of a segment already held (the first is kept);
  //   ResourceExhausted  the message would exceed kMaxPacketSize: it is dropped
  //                      whole (it could never open).
  StatusOr<std::optional<Bytes>> Add(ByteView user_data);

  std::size_t pending_messages() const { return pending_.size(); }
  // Messages dropped, incomplete, to make room for newer ones (for monitoring).
  uint64_t dropped_messages() const { return dropped_; }
  void Reset() { pending_.clear(); }

 private:
  struct Pending {
    bool reference_16bit = false;  // an 8-bit and a 16-bit reference never match
    uint16_t reference = 0;
    uint8_t total = 0;
    std::size_t received = 0;
    std::size_t bytes = 0;
    uint64_t last_touched = 0;
    std::array<std::optional<Bytes>, kMaxSegments> parts{};
  };
  std::vector<Pending> pending_;
  uint64_t clock_ = 0;
  uint64_t dropped_ = 0;
};

// --- TPDUs (TS 23.040 §9.2.2), 8-bit data only --------------------------------

inline constexpr uint8_t kPidSimDataDownload = 0x7F;  // TP-PID: (U)SIM data download
inline constexpr uint8_t kDcsClass2Data8bit = 0xF6;   // TP-DCS: 8-bit data, class 2 (SIM specific)

// An address field (TS 23.040 §9.1.2.5): type of address (0x91 international
// ISDN, 0x81 unknown ISDN) and up to 20 digits of 0-9 * # a b c. Alphanumeric
// addresses (TON 101) are refused.
struct SmsAddress {
  uint8_t type = 0x91;
  std::string digits;
  bool operator==(const SmsAddress&) const = default;
};

// SMS-DELIVER (network -> MS): what the chip's SMS-PP data download ENVELOPE
// carries in its SMS TPDU data object (TS 31.111 §7.1.1).
struct SmsDeliver {
  bool more_messages_to_send = false;  // TP-MMS (encoded inverted: bit 2 = 0 means more)
  bool user_data_header = true;        // TP-UDHI
  SmsAddress originator;               // TP-OA
  uint8_t pid = kPidSimDataDownload;   // TP-PID
  uint8_t dcs = kDcsClass2Data8bit;    // TP-DCS: must denote uncompressed 8-bit data
  std::array<uint8_t, 7> scts{};       // TP-SCTS, semi-octets as on the air
  Bytes user_data;                     // TP-UD incl. UDHL/UDH, <= 140 bytes
  bool operator==(const SmsDeliver&) const = default;
};

// SMS-SUBMIT (MS -> network): what the chip's SEND SHORT MESSAGE carries. No
// validity period is encoded; one is skipped on decode.
struct SmsSubmit {
  uint8_t message_reference = 0;       // TP-MR
  bool user_data_header = true;        // TP-UDHI
  SmsAddress destination;              // TP-DA
  uint8_t pid = kPidSimDataDownload;   // TP-PID
  uint8_t dcs = kDcsClass2Data8bit;    // TP-DCS: must denote uncompressed 8-bit data
  Bytes user_data;                     // TP-UD incl. UDHL/UDH, <= 140 bytes
  bool operator==(const SmsSubmit&) const = default;
};

// True if a TP-DCS value means uncompressed 8-bit data (general data coding
// groups 00xx/01xx with alphabet 01, or group 1111 with bit 2 set).
bool IsEightBitData(uint8_t dcs);

// Encoders: InvalidArgument for a bad address, a non-8-bit DCS or user data over
// 140 bytes. Decoders: InvalidArgument for a wrong TP-MTI, a truncated field,
// a UDL that disagrees with the remaining bytes, or the same checks.
StatusOr<Bytes> EncodeSmsDeliver(const SmsDeliver& sms);
StatusOr<SmsDeliver> DecodeSmsDeliver(ByteView tpdu);
StatusOr<Bytes> EncodeSmsSubmit(const SmsSubmit& sms);
StatusOr<SmsSubmit> DecodeSmsSubmit(ByteView tpdu);

}  // namespace simkms::protocol
