// `chipsim vpcd`'s side of vsmartcard's reader protocol, against a test socket
// that plays the vpcd reader (2-byte big-endian length, then the message;
// 1-byte controls 00 off, 01 on, 02 reset, 04 ATR).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "tests/chip/card_test_util.h"
#include "tools/chipsim/vpcd_link.h"

namespace simkms::chip::testing {
namespace {

// The reader's end: listens on a loopback port, accepts the card.
class FakeReader {
 public:
  FakeReader() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    EXPECT_EQ(::listen(listener_, 1), 0);
  }
  ~FakeReader() {
    if (card_ >= 0) ::close(card_);
    ::close(listener_);
  }
  uint16_t port() const { return port_; }
  void Accept() { card_ = ::accept(listener_, nullptr, nullptr); }
  void Send(const Bytes& message) {
    Bytes framed{static_cast<uint8_t>(message.size() >> 8), static_cast<uint8_t>(message.size())};
    framed.insert(framed.end(), message.begin(), message.end());
    ASSERT_EQ(::send(card_, framed.data(), framed.size(), 0), static_cast<ssize_t>(framed.size()));
  }
  Bytes Receive() {
    uint8_t len[2];
    if (::recv(card_, len, 2, MSG_WAITALL) != 2) return {};
    Bytes out((len[0] << 8) | len[1]);
    if (!out.empty()) ::recv(card_, out.data(), out.size(), MSG_WAITALL);
    return out;
  }
  void Close() {
    ::close(card_);
    card_ = -1;
  }

 private:
  int listener_ = -1;
  int card_ = -1;
  uint16_t port_ = 0;
};

TEST(VpcdLinkTest, CaseFourApdusLoseTheirLeForT0) {
  EXPECT_EQ(ToHex(ToT0Command(Hex("00A40004023F0000"))), "00a40004023f00");
  EXPECT_EQ(ToHex(ToT0Command(Hex("00A40004023F00"))), "00a40004023f00");  // case 3
  EXPECT_EQ(ToHex(ToT0Command(Hex("00B000000A"))), "00b000000a");          // case 2
  EXPECT_EQ(ToHex(ToT0Command(Hex("80F2000C"))), "80f2000c");              // case 1
  EXPECT_EQ(ToHex(ToT0Command(Hex("00A4000400000200"))), "00a4000400000200");  // extended: left to the card
}

TEST(VpcdLinkTest, ServesTheCardToTheReaderUntilItCloses) {
  FakeReader reader;
  Card card(MakeChip(), nullptr);
  int commands = 0;
  Status served;
  std::thread card_side([&] {
    VpcdOptions options;
    options.port = reader.port();
    served = ServeVpcd(options, card, [&] {
      ++commands;
      return OkStatus();
    });
  });
  reader.Accept();
  reader.Send({0x04});  // ATR, before power: the card's ATR all the same
  EXPECT_EQ(reader.Receive(), Card::Atr());
  reader.Send(Hex("00A4000C023F00"));  // no power yet: no answer but 6F 00
  EXPECT_EQ(ToHex(reader.Receive()), "6f00");
  reader.Send({0x01});  // power on (not answered)
  reader.Send(Hex("00A4000402 2FE2 00"));  // case 4 with Le: the card answers as T=0
  const Bytes sw = reader.Receive();
  ASSERT_EQ(sw.size(), 2u);
  EXPECT_EQ(sw[0], 0x61);
  reader.Send(Bytes{0x00, 0xC0, 0x00, 0x00, sw[1]});
  const Bytes fcp = reader.Receive();
  EXPECT_EQ(fcp[0], 0x62);
  reader.Send(Hex("00B000000A"));
  EXPECT_EQ(ToHex(reader.Receive()), "989400214365870921f8" "9000");
  reader.Send({0x00});  // power off
  reader.Send(Hex("00B000000A"));
  EXPECT_EQ(ToHex(reader.Receive()), "6f00");
  reader.Send({0x02});  // reset: powered again, MF current
  reader.Send(Hex("00B000000A"));
  EXPECT_EQ(ToHex(reader.Receive()), "6986");
  reader.Close();  // pcscd stopped
  card_side.join();
  EXPECT_TRUE(served.ok()) << served.ToString();
  EXPECT_EQ(commands, 6);  // the APDUs, not the controls
}

TEST(VpcdLinkTest, AnUnknownControlByteEndsTheSession) {
  FakeReader reader;
  Card card(MakeChip(), nullptr);
  Status served;
  std::thread card_side([&] {
    VpcdOptions options;
    options.port = reader.port();
    served = ServeVpcd(options, card, [] { return OkStatus(); });
  });
  reader.Accept();
  reader.Send({0x07});
  card_side.join();
  EXPECT_EQ(served.code(), StatusCode::kDataLoss) << served.ToString();
}

TEST(VpcdLinkTest, NoReaderIsUnavailableAfterTheTimeout) {
  uint16_t port = 0;
  {
    FakeReader gone;
    port = gone.port();
  }
  Card card(MakeChip(), nullptr);
  VpcdOptions options;
  options.port = port;
  options.connect_timeout_ms = 300;
  EXPECT_EQ(ServeVpcd(options, card, [] { return OkStatus(); }).code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace simkms::chip::testing
