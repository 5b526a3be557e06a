// How the handset model reaches the Security Centre: the mobile network's SMS
// service as the terminal sees it (SmsNetwork), and one implementation that
// plays the operator's OTA gateway in front of kmsd (docs/protocol.md §7):
//
//   handset --SMS-SUBMIT--> [GatewaySmsNetwork: reassemble the chip's segments,
//            one gateway frame (type 01) over TCP to kmsd's chip channel, read
//            the answer frame (type 02), split it into SMS-DELIVERs] --> handset
//
// Plain TCP only: the gateway model does not speak TLS (kmsd's chip channel can
// require it when it listens beyond loopback; docs/chip-simulator.md).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "sc-engine/protocol/sms_segments.h"

namespace simkms::chip {

class SmsNetwork {
 public:
  virtual ~SmsNetwork() = default;
  // A mobile-originated SMS-SUBMIT TPDU from the subscriber `imsi` (the one the
  // network authenticated). An error means the network did not take it (the
  // terminal reports "network currently unable" to the chip).
  virtual Status Submit(const std::string& imsi, ByteView sms_submit_tpdu) = 0;
  // The next mobile-terminated SMS-DELIVER TPDU for `imsi`, nullopt if none.
  virtual std::optional<Bytes> Receive(const std::string& imsi) = 0;
};

struct GatewayOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  // How long to wait for the SC's answer to one packet. The SC does not answer
  // a packet it cannot authenticate, so silence is an answer too.
  int answer_timeout_ms = 10000;
  // TP-OA of the SMS-DELIVERs towards the chip: the SC's OTA number.
  std::string sc_number = "491710000100";
};

// Parses "HOST:PORT" ("[v6]:PORT" for IPv6 literals).
StatusOr<GatewayOptions> ParseScEndpoint(std::string_view endpoint);

// Something on the path between the gateway and the SC that sees every whole
// packet and may put another in its place: the K1 holder in the middle of
// `chipsim first-call --ki-holder-in-the-middle` (ki_holder_tap.h). Not a loss
// model (tests wrap SmsNetwork for that) and not part of a normal run.
class PacketTap {
 public:
  virtual ~PacketTap() = default;
  // A reassembled packet from the chip `imsi`: what the SC gets instead. An
  // error drops the packet (Submit fails with it, as when the network refuses).
  virtual StatusOr<Bytes> Upward(const std::string& imsi, Bytes packet) = 0;
  // The SC's answer for `imsi`: what the chip gets instead (before it is split
  // into SMS-DELIVERs). An error drops it (Submit fails with it).
  virtual StatusOr<Bytes> Downward(const std::string& imsi, Bytes packet) = 0;
};

class GatewaySmsNetwork : public SmsNetwork {
 public:
  explicit GatewaySmsNetwork(GatewayOptions options) : options_(std::move(options)) {}
  ~GatewaySmsNetwork() override;
  GatewaySmsNetwork(const GatewaySmsNetwork&) = delete;
  GatewaySmsNetwork& operator=(const GatewaySmsNetwork&) = delete;

  // Reassembles; on a complete packet exchanges it with the SC (blocking, up
  // to answer_timeout_ms). InvalidArgument for a TPDU that is not an 8-bit
  // SMS-SUBMIT with a TS 31.115 UDH; Unavailable if the SC cannot be reached.
  Status Submit(const std::string& imsi, ByteView sms_submit_tpdu) override;
  std::optional<Bytes> Receive(const std::string& imsi) override;

  // Puts `tap` (not owned; nullptr: none) on every packet from now on.
  void set_tap(PacketTap* tap) { tap_ = tap; }

  // Packets sent to the SC, and those it left unanswered (for the CLI's messages).
  uint64_t packets_sent() const { return packets_sent_; }
  uint64_t packets_unanswered() const { return packets_unanswered_; }

 private:
  Status Connect();
  void Disconnect();
  // One frame out, the answer frame for `imsi` back (nullopt: none in time).
  StatusOr<std::optional<Bytes>> Exchange(const std::string& imsi, const Bytes& packet);
  Status Deliver(const std::string& imsi, const Bytes& packet);

  GatewayOptions options_;
  int fd_ = -1;
  std::map<std::string, protocol::Reassembler> reassemblers_;
  std::map<std::string, std::deque<Bytes>> deliveries_;
  uint8_t reference_ = 0;
  PacketTap* tap_ = nullptr;
  uint64_t packets_sent_ = 0;
  uint64_t packets_unanswered_ = 0;
};

}  // namespace simkms::chip
