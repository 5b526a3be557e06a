// Writes the seed corpus of protocol_fuzzer (tests/fuzz/corpus/): the messages
// of tests/protocol/protocol_codec_test.cc and the §8 COMMIT vector, each sealed
// under the §8 keys, the gateway frames and SMS that carry them, TPDUs, and an
// IPA stream as an MSC and osmo-hlr exchange it on the GSUP port.
//   make_seed_corpus <directory>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "sc-engine/gsup/gsup.h"
#include "sc-engine/gsup/ipa.h"
#include "sc-engine/protocol/gateway_frame.h"
#include "sc-engine/protocol/messages.h"
#include "sc-engine/protocol/ota_cipher.h"
#include "sc-engine/protocol/secured_packet.h"
#include "sc-engine/protocol/sms_segments.h"

namespace simkms::protocol {
namespace {

Bytes Hex(const char* h) { return FromHex(h).value(); }

// A seed for protocol_fuzzer's FuzzFramings: the byte that chooses the format
// (and chunks of 1 byte), then the frames as one TCP stream.
constexpr uint8_t kSelectGateway = 0x00;
constexpr uint8_t kSelectIpa = 0x01;
Bytes FramingSeed(uint8_t select, std::initializer_list<Bytes> frames) {
  Bytes out{select};
  for (const Bytes& f : frames) out.insert(out.end(), f.begin(), f.end());
  return out;
}

template <std::size_t N>
std::array<uint8_t, N> Seq(uint8_t start) {
  std::array<uint8_t, N> a{};
  for (std::size_t i = 0; i < N; ++i) a[i] = static_cast<uint8_t>(start + i);
  return a;
}

Hello SampleHello(Bytes y_c) {
  Hello h;
  h.kind = SessionKind::kFirstCall;
  h.ver = 3;
  h.iccid = {0x98, 0x94, 0x00, 0x21, 0x43, 0x65, 0x87, 0x09, 0x21, 0x83};
  h.nonce_c = Seq<16>(0);
  h.y_c = std::move(y_c);
  return h;
}

std::vector<std::pair<std::string, Message>> Messages() {
  const Bytes p256 = Hex(
      "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b"
      "315ececbb6406837bf51f5");
  Hello resync = SampleHello(p256);
  resync.kind = SessionKind::kRekey;
  resync.resync_proof = Seq<8>(0x70);
  Challenge ch;
  ch.session_id = Seq<8>(0xA0);
  ch.nonce_s = Seq<16>(0x10);
  ch.y_s = Bytes(256, 0x22);
  ch.rand = Seq<16>(0x20);
  ch.activation_required = true;
  Confirm cf;
  cf.session_id = ch.session_id;
  cf.res = Seq<8>(0x90);
  cf.activation_proof = Seq<8>(0x01);
  Commit cm;
  cm.session_id = ch.session_id;
  cm.commit_mac = Seq<8>(0xC0);
  cm.opc = Seq<16>(0xD0);
  Error er;
  er.session_id = ch.session_id;
  er.code = ErrorCode::kWrongActivationCode;
  er.tries_left = 2;
  return {
      {"hello_ffdhe2048", SampleHello(Bytes(256, 0x5A))}, {"hello_ffdhe3072", SampleHello(Bytes(384, 0x11))},
      {"hello_p256_resync", resync},                     {"challenge", ch},
      {"confirm", cf},                                   {"commit", cm},
      {"error", er},
  };
}

bool Write(const std::string& dir, const std::string& name, ByteView bytes) {
  std::ofstream f(dir + "/" + name, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(f);
}

int Run(const std::string& dir) {
  auto cipher = SoftwareOtaCipher::Create(SecretBytes::Copy(Hex("000102030405060708090a0b0c0d0e0f")),
                                          SecretBytes::Copy(Hex("101112131415161718191a1b1c1d1e1f")));
  if (!cipher.ok()) return 1;
  int files = 0;
  auto write = [&](const std::string& name, ByteView bytes) {
    if (!Write(dir, name, bytes)) {
      std::fprintf(stderr, "cannot write %s/%s\n", dir.c_str(), name.c_str());
      std::exit(1);
    }
    ++files;
  };
  uint64_t counter = 0;
  for (const auto& [name, message] : Messages()) {
    const Bytes encoded = Encode(message);
    write("msg_" + name, encoded);
    ++counter;
    const uint8_t key_version = counter % 2 ? kKeyVersionKi1 : kKeyVersionKi2;
    const Bytes packet = SealPacket(*cipher, key_version, counter, encoded).value();
    write("packet_" + name, packet);

    GatewayFrame frame;
    frame.type = counter % 2 ? GatewayFrameType::kFromChip : GatewayFrameType::kToChip;
    frame.imsi = "001019876543210";
    frame.payload = packet;
    const Bytes keepalive = EncodeGatewayFrame(GatewayFrame{}).value();  // first in the stream
    write("gateway_" + name, FramingSeed(kSelectGateway, {keepalive, EncodeGatewayFrame(frame).value()}));

    // The SMS of the packet, last first, as the fuzzer's [length][user data] list.
    const auto segments = Split(packet, static_cast<uint8_t>(counter)).value();
    Bytes sms_list;
    for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
      sms_list.push_back(static_cast<uint8_t>(it->size()));
      sms_list.insert(sms_list.end(), it->begin(), it->end());
    }
    write("sms_" + name, sms_list);

    SmsDeliver deliver;
    deliver.originator = {0x91, "4917012345678"};
    deliver.user_data = segments.back();
    write("deliver_" + name, EncodeSmsDeliver(deliver).value());
    SmsSubmit submit;
    submit.message_reference = static_cast<uint8_t>(counter);
    submit.destination = {0x91, "4912345"};
    submit.user_data = segments.front();
    write("submit_" + name, EncodeSmsSubmit(submit).value());
  }
  // The §8 vector itself: COMMIT, key version 1, CNTR 1.
  Commit vector;
  vector.session_id = Seq<8>(0xA0);
  vector.commit_mac = Seq<8>(0xC0);
  vector.opc = Seq<16>(0xD0);
  write("packet_vector_commit", SealPacket(*cipher, kKeyVersionKi1, 1, Encode(vector)).value());
  // The GSUP port: ID_GET, the MSC's ID_RESP, a PING, a Send Authentication
  // Info request (3 vectors) and the ID_ACK, in one stream.
  gsup::Message sai;
  sai.imsi = "001010000000042";
  sai.num_vectors_req = 3;
  const Bytes id_resp = gsup::EncodeIdResp({{gsup::IdTag::kUnit, "0/0/0"}, {gsup::IdTag::kSerNr, "MSC-0"}}).value();
  const Bytes sai_frame = gsup::EncodeGsupFrame(gsup::Encode(sai).value()).value();
  write("ipa_gsup_port",
        FramingSeed(kSelectIpa, {gsup::EncodeIdGet(), id_resp, gsup::EncodePing(), sai_frame, gsup::EncodeIdAck()}));
  std::printf("%d seed files in %s\n", files, dir.c_str());
  return 0;
}

}  // namespace
}  // namespace simkms::protocol

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
    return 2;
  }
  return simkms::protocol::Run(argv[1]);
}
