#include "tests/e2e/raw_gsup_client.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "tests/support/status_testing.h"

namespace simkms::e2e {

RawGsupClient::~RawGsupClient() {
  if (fd_ >= 0) close(fd_);
}

void RawGsupClient::Send(const Bytes& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

std::optional<gsup::IpaFrame> RawGsupClient::ReadFrame(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    while (!pending_.empty()) {
      auto n = decoder_.Feed(pending_);
      if (!n.ok()) return std::nullopt;
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(*n));
      if (auto frame = decoder_.Pop()) return frame;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
    uint8_t chunk[4096];
    ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      closed_ = true;
      return std::nullopt;
    }
    pending_.insert(pending_.end(), chunk, chunk + n);
  }
}

void RawGsupClient::Identify(const std::string& serial) {
  auto id_get = ReadFrame();
  ASSERT_TRUE(id_get.has_value());
  EXPECT_EQ(gsup::EncodeIpaFrame(id_get->stream, id_get->payload).value(), gsup::EncodeIdGet());
  Send(gsup::EncodeIdResp({{gsup::IdTag::kUnit, "0/0/0"}, {gsup::IdTag::kSerNr, serial}}).value());
}

std::optional<Bytes> RawGsupClient::ReadGsupBytes(int timeout_ms) {
  while (auto frame = ReadFrame(timeout_ms)) {
    auto c = gsup::ClassifyFrame(*frame);
    if (c.ok() && c->kind == gsup::Classified::Kind::kGsup) return Bytes(c->body.begin(), c->body.end());
  }
  return std::nullopt;
}

std::optional<gsup::Message> RawGsupClient::ReadGsup(int timeout_ms) {
  while (auto body = ReadGsupBytes(timeout_ms)) {
    auto m = gsup::Decode(*body);
    EXPECT_OK(m);
    if (m.ok()) return *m;
  }
  return std::nullopt;
}

bool RawGsupClient::ClosedWithin(int timeout_ms) {
  while (!closed_ && ReadFrame(timeout_ms)) {
  }
  return closed_;
}

gsup::Message RequestForAnotherHlr(const std::string& imsi) {
  gsup::Message m = gsup::MakeSendAuthInfoRequest(imsi);
  const std::string other("OTHER-HLR\0", 10), source("MSC-1\0", 6);
  m.destination_name = Bytes(other.begin(), other.end());
  m.source_name = Bytes(source.begin(), source.end());
  m.session_id = 7;
  m.session_state = 1;
  return m;
}

}  // namespace simkms::e2e
