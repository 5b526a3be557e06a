#include "sc-engine/protocol/secured_packet.h"

#include <algorithm>

#include "base/wiped_buffer.h"

namespace simkms::protocol {
namespace {

constexpr uint8_t kChl = 21;         // SPI(2) KIc KID TAR(3) CNTR(5) PCNTR CC(8)
constexpr uint8_t kSpi1 = 0x16;      // CC, ciphering, counter must be higher
constexpr uint8_t kSpi2 = 0x00;      // no PoR
constexpr uint8_t kAlgoAes = 0x02;   // KIc: AES-CBC; KID: AES-CMAC
constexpr std::size_t kCipherStart = 10;  // CNTR

// CPL CHL SPI KIc KID TAR: the first 10 bytes.
Bytes FixedHeader(uint8_t key_version, std::size_t cpl) {
  const uint8_t kv = static_cast<uint8_t>(key_version << 4 | kAlgoAes);
  return Bytes{static_cast<uint8_t>(cpl >> 8), static_cast<uint8_t>(cpl), kChl, kSpi1, kSpi2, kv, kv,
               kPersonalizationTar[0], kPersonalizationTar[1], kPersonalizationTar[2]};
}

// The bytes the CC covers: the packet with the CC field left out.
Bytes CcInput(ByteView fixed, ByteView counter_and_pcntr, ByteView data_and_padding) {
  Bytes in(fixed.begin(), fixed.end());
  in.insert(in.end(), counter_and_pcntr.begin(), counter_and_pcntr.end());
  in.insert(in.end(), data_and_padding.begin(), data_and_padding.end());
  return in;
}

}  // namespace

StatusOr<PacketRouting> PeekRouting(ByteView packet) {
  if (packet.size() < kHeaderSize) return InvalidArgumentError("secured packet shorter than its header");
  if (packet[2] != kChl || packet[3] != kSpi1 || packet[4] != kSpi2) {
    return InvalidArgumentError("secured packet has an unsupported header (CHL/SPI)");
  }
  if (packet[5] != packet[6] || (packet[5] & 0x0f) != kAlgoAes) {
    return InvalidArgumentError("secured packet has unsupported KIc/KID");
  }
  PacketRouting r;
  r.key_version = packet[5] >> 4;
  std::copy(packet.begin() + 7, packet.begin() + 10, r.tar.begin());
  if (r.tar != kPersonalizationTar) return InvalidArgumentError("secured packet is for another TAR");
  return r;
}

StatusOr<Bytes> SealPacket(OtaCipher& cipher, uint8_t key_version, uint64_t counter, ByteView message) {
  if (key_version == 0 || key_version > 15) return InvalidArgumentError("key version must be 1..15");
  if (counter > kMaxCounter) return ResourceExhaustedError("OTA counter exhausted");
  // CNTR(5) PCNTR(1) CC(8) data+padding must be a multiple of 16.
  const std::size_t unpadded = 14 + message.size();
  const uint8_t padding = static_cast<uint8_t>((16 - unpadded % 16) % 16);
  const std::size_t cpl = 1 + kChl + message.size() + padding;  // CHL byte .. end
  if (2 + cpl > kMaxPacketSize) return InvalidArgumentError("message too large for a secured packet");

  Bytes fixed = FixedHeader(key_version, cpl);
  Bytes counter_and_pcntr(6);
  for (int i = 0; i < 5; ++i) counter_and_pcntr[i] = static_cast<uint8_t>(counter >> (32 - 8 * i));
  counter_and_pcntr[5] = padding;
  Bytes data(message.begin(), message.end());
  data.resize(message.size() + padding, 0);

  SIMKMS_ASSIGN_OR_RETURN(Bytes cc, cipher.Cmac(CcInput(fixed, counter_and_pcntr, data)));
  Bytes plain = counter_and_pcntr;
  WipeOnExit wipe_plain(plain);
  plain.insert(plain.end(), cc.begin(), cc.begin() + kCcSize);
  plain.insert(plain.end(), data.begin(), data.end());
  SIMKMS_ASSIGN_OR_RETURN(Bytes ciphered, cipher.EncryptCbc(plain));
  fixed.insert(fixed.end(), ciphered.begin(), ciphered.end());
  return fixed;
}

StatusOr<OpenedPacket> OpenPacket(OtaCipher& cipher, ByteView packet, uint64_t last_counter) {
  SIMKMS_ASSIGN_OR_RETURN(PacketRouting routing, PeekRouting(packet));
  if (packet.size() > kMaxPacketSize) return InvalidArgumentError("secured packet too large");
  const std::size_t cpl = std::size_t{packet[0]} << 8 | packet[1];
  if (cpl + 2 != packet.size()) return InvalidArgumentError("secured packet length does not match CPL");
  ByteView ciphered = packet.subspan(kCipherStart);
  if (ciphered.size() % 16 != 0 || ciphered.size() < 16) {
    return InvalidArgumentError("ciphered part of the secured packet is not whole AES blocks");
  }
  SIMKMS_ASSIGN_OR_RETURN(Bytes plain, cipher.DecryptCbc(ciphered));
  WipeOnExit wipe_plain(plain);  // every return below, the counter and padding checks' too
  const uint8_t padding = plain[5];
  if (padding > 15 || 14 + std::size_t{padding} > plain.size()) {
    return UnauthenticatedError("secured packet does not authenticate");
  }
  Bytes fixed(packet.begin(), packet.begin() + kCipherStart);
  ByteView counter_and_pcntr(plain.data(), 6);
  ByteView cc(plain.data() + 6, kCcSize);
  ByteView data(plain.data() + 14, plain.size() - 14);
  SIMKMS_ASSIGN_OR_RETURN(Bytes expected, cipher.Cmac(CcInput(fixed, counter_and_pcntr, data)));
  if (!ConstantTimeEquals(ByteView(expected).first(kCcSize), cc)) {
    return UnauthenticatedError("secured packet does not authenticate");
  }
  OpenedPacket out;
  out.key_version = routing.key_version;
  for (int i = 0; i < 5; ++i) out.counter = out.counter << 8 | plain[i];
  if (out.counter <= last_counter) {
    return FailedPreconditionError("secured packet counter " + std::to_string(out.counter) +
                                   " is not higher than the last accepted " + std::to_string(last_counter));
  }
  // Padding bytes are authenticated by the CC; they must still be zero.
  if (!std::all_of(data.end() - padding, data.end(), [](uint8_t b) { return b == 0; })) {
    return InvalidArgumentError("secured packet padding is not zero");
  }
  out.message.assign(data.begin(), data.end() - padding);
  return out;
}

}  // namespace simkms::protocol
