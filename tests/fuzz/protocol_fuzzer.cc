// libFuzzer target for everything that parses bytes from the air, the gateway or
// the GSUP port's framing (docs/protocol.md §2, §4, §7; docs/gsup.md §2). One
// input goes to every parser:
//   - messages: Decode; a decoded message re-encodes to the same bytes and decodes
//     to the same message;
//   - secured packets: PeekRouting, OpenPacket under fixed keys; and SealPacket of
//     the input as a message opens back to it;
//   - SMS: ParseSegment, SMS-DELIVER/SUBMIT decode (a decoded TPDU re-encodes and
//     decodes to the same value); the input read as a list of user data
//     (length byte, bytes; ...) into a Reassembler; and Split of the input as a
//     packet, through SMS-DELIVER TPDUs, reassembles in reverse order to itself;
//   - gateway frames or IPA frames (the two formats of the length-prefixed
//     decoder; the first byte chooses): the rest of the input as a TCP stream,
//     fed whole and in small chunks; both give the same frames and the same
//     error, and each frame re-encodes to exactly the bytes it was decoded from.
// A broken property aborts (a finding), as do ASan/UBSan reports and leaks.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

#include "sc-engine/gsup/ipa.h"
#include "sc-engine/protocol/gateway_frame.h"
#include "sc-engine/protocol/messages.h"
#include "sc-engine/protocol/ota_cipher.h"
#include "sc-engine/protocol/secured_packet.h"
#include "sc-engine/protocol/sms_segments.h"
#include "tests/support/feed_in_chunks.h"

namespace simkms::protocol {
namespace {

#define FUZZ_CHECK(cond)                                                        \
  do {                                                                          \
    if (!(cond)) {                                                              \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                             \
    }                                                                           \
  } while (0)

// The §8 test-vector keys, so that the seed packets authenticate.
OtaCipher& FixedCipher() {
  static SoftwareOtaCipher cipher =
      SoftwareOtaCipher::Create(SecretBytes::Copy(FromHex("000102030405060708090a0b0c0d0e0f").value()),
                                SecretBytes::Copy(FromHex("101112131415161718191a1b1c1d1e1f").value()))
          .value();
  return cipher;
}

void FuzzMessage(ByteView data) {
  auto m = Decode(data);
  if (!m.ok()) return;
  const Bytes again = Encode(*m);
  FUZZ_CHECK(ByteView(again).size() == data.size() && std::equal(again.begin(), again.end(), data.begin()));
  auto m2 = Decode(again);
  FUZZ_CHECK(m2.ok() && *m2 == *m);
}

void FuzzPacket(ByteView data) {
  auto routing = PeekRouting(data);
  auto opened = OpenPacket(FixedCipher(), data, 0);
  if (opened.ok()) {
    FUZZ_CHECK(routing.ok() && routing->key_version == opened->key_version);
    FUZZ_CHECK(opened->counter > 0 && opened->counter <= kMaxCounter);
    FuzzMessage(opened->message);
  }
  // Seal the input as a message; it must open to itself.
  if (data.size() + kHeaderSize + 15 <= kMaxPacketSize) {
    uint64_t counter = 1;
    for (std::size_t i = 0; i < 5 && i < data.size(); ++i) counter = counter << 8 | data[i];
    counter = counter % kMaxCounter + 1;
    auto sealed = SealPacket(FixedCipher(), kKeyVersionKi2, counter, data);
    FUZZ_CHECK(sealed.ok());
    auto back = OpenPacket(FixedCipher(), *sealed, counter - 1);
    FUZZ_CHECK(back.ok() && back->counter == counter && back->key_version == kKeyVersionKi2);
    FUZZ_CHECK(back->message.size() == data.size() && std::equal(data.begin(), data.end(), back->message.begin()));
    FUZZ_CHECK(OpenPacket(FixedCipher(), *sealed, counter).status().code() == StatusCode::kFailedPrecondition);
  }
}

void FuzzTpdus(ByteView data) {
  if (auto d = DecodeSmsDeliver(data); d.ok()) {
    auto again = EncodeSmsDeliver(*d);
    FUZZ_CHECK(again.ok());
    auto d2 = DecodeSmsDeliver(*again);
    FUZZ_CHECK(d2.ok() && *d2 == *d);
  }
  if (auto s = DecodeSmsSubmit(data); s.ok()) {
    auto again = EncodeSmsSubmit(*s);
    FUZZ_CHECK(again.ok());
    auto s2 = DecodeSmsSubmit(*again);
    FUZZ_CHECK(s2.ok() && *s2 == *s);
  }
}

// The input as user data of several SMS: [length][bytes] repeated.
void FuzzReassembler(ByteView data) {
  Reassembler r;
  std::size_t pos = 0;
  for (int n = 0; n < 64 && pos < data.size(); ++n) {
    const std::size_t want = data[pos];
    ++pos;
    const std::size_t len = std::min(want, data.size() - pos);
    ByteView ud = data.subspan(pos, len);
    pos += len;
    (void)ParseSegment(ud);
    auto out = r.Add(ud);
    FUZZ_CHECK(r.pending_messages() <= Reassembler::kMaxPendingMessages);
    if (out.ok() && out->has_value()) {
      const Bytes& packet = **out;
      FUZZ_CHECK(!packet.empty() && packet.size() <= kMaxPacketSize);
      (void)PeekRouting(packet);
      (void)OpenPacket(FixedCipher(), packet, 0);
    }
  }
}

// Split -> SMS-DELIVER -> decode -> reassemble (reverse order) is the identity.
void FuzzSplit(ByteView data) {
  if (data.empty() || data.size() > kMaxPacketSize) {
    FUZZ_CHECK(!Split(data, 0).ok());
    return;
  }
  const uint8_t reference = data[0];
  auto segments = Split(data, reference);
  FUZZ_CHECK(segments.ok() && !segments->empty() && segments->size() <= kMaxSegments);
  Reassembler r;
  std::optional<Bytes> packet;
  for (std::size_t i = segments->size(); i-- > 0;) {
    const Bytes& ud = (*segments)[i];
    FUZZ_CHECK(ud.size() <= kMaxUserDataSize);
    SmsDeliver sms;
    sms.originator = {0x91, "4917012345678"};
    sms.user_data = ud;
    auto tpdu = EncodeSmsDeliver(sms);
    FUZZ_CHECK(tpdu.ok());
    auto back = DecodeSmsDeliver(*tpdu);
    FUZZ_CHECK(back.ok() && back->user_data == ud);
    auto out = r.Add(back->user_data);
    FUZZ_CHECK(out.ok());
    FUZZ_CHECK(out->has_value() == (i == 0));
    if (out->has_value()) packet = std::move(**out);
  }
  FUZZ_CHECK(packet && packet->size() == data.size() && std::equal(data.begin(), data.end(), packet->begin()));
}

// `stream` as the TCP stream of one framing, fed whole and in chunks of `chunk`
// bytes: both give the same frames, at the same offsets, and the same error; a
// refused stream stays refused; each frame re-encodes to exactly the bytes it
// was decoded from, within the format's bound.
template <typename Decoder, typename Encode>
void FuzzFraming(ByteView stream, std::size_t chunk, Encode encode, std::size_t max_frame_size) {
  Decoder whole_decoder;
  Decoder chunked_decoder;
  const auto whole = testing::FeedInChunks(whole_decoder, stream, stream.size() + 1);
  const auto chunked = testing::FeedInChunks(chunked_decoder, stream, chunk);
  FUZZ_CHECK(whole.status.code() != StatusCode::kInternal);  // Feed kept its contract (feed_in_chunks.h)
  FUZZ_CHECK(whole.status.code() == chunked.status.code() && whole.status.message() == chunked.status.message());
  FUZZ_CHECK(whole.frames == chunked.frames && whole.ends == chunked.ends);
  if (!whole.status.ok()) {
    FUZZ_CHECK(whole_decoder.Feed(stream).status().code() == whole.status.code());  // sticky
    FUZZ_CHECK(!whole_decoder.Pop().has_value());
  }
  std::size_t offset = 0;
  for (std::size_t i = 0; i < whole.frames.size(); ++i) {
    auto wire = encode(whole.frames[i]);
    FUZZ_CHECK(wire.ok() && wire->size() == whole.ends[i] - offset && wire->size() <= max_frame_size);
    FUZZ_CHECK(std::equal(wire->begin(), wire->end(), stream.begin() + static_cast<std::ptrdiff_t>(offset)));
    offset = whole.ends[i];
  }
}

// The two framings on base/length_prefixed_decoder.h. The first byte chooses:
// its low bit the format (0 gateway, 1 IPA), the rest the chunk size (1..7);
// the stream is the bytes after it. One format per input keeps an execution as
// cheap as when only the gateway was fuzzed (the decoders' allocations are a
// good part of it), and a mutation of the stream stays within its format.
void FuzzFramings(ByteView data) {
  if (data.empty()) return;
  const ByteView stream = data.subspan(1);
  const std::size_t chunk = 1 + (data[0] >> 1) % 7;
  if ((data[0] & 1) == 0) {
    FuzzFraming<GatewayFrameDecoder>(stream, chunk, EncodeGatewayFrame, kMaxGatewayFrameSize);
  } else {
    FuzzFraming<gsup::IpaDecoder>(
        stream, chunk, [](const gsup::IpaFrame& f) { return gsup::EncodeIpaFrame(f.stream, f.payload); },
        gsup::kIpaHeaderSize + gsup::kMaxIpaPayload);
  }
}

}  // namespace
}  // namespace simkms::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace simkms::protocol;
  const simkms::ByteView input(data, size);
  FuzzMessage(input);
  FuzzPacket(input);
  (void)ParseSegment(input);
  FuzzTpdus(input);
  FuzzReassembler(input);
  FuzzSplit(input);
  FuzzFramings(input);
  return 0;
}
