// kmsd stopped by SIGTERM in the middle of GSUP and first-call load keeps its
// word (docs/operations.md, "Start, stop, crash"): every answer whose work was
// done reaches its peer, and nothing is answered that was not done.
//
// Several GSUP clients keep many SEND_AUTH_INFO requests in flight over the
// same subscribers while two OTA gateways run first calls; SIGTERM goes out
// once both kinds of answer are flowing, and the clients go on sending until
// kmsd closes their connections. kmsd must exit 0. Then it is started again
// on the same token and database, and:
//  - per subscriber, the SQN on disk is the one the answers received account
//    for: the next vector's SEQ, less one, equals the vectors received (SEQs
//    start at 1 and every vector takes the next). An answer dropped after its
//    SQN became durable leaves the disk ahead; an answer for an SQN that never
//    became durable leaves it behind;
//  - a chip got its COMMIT if and only if the database holds its Ki_2
//    (PERSONALIZED, the Ki_2's KCV).
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "sc-engine/gsup/gsup.h"
#include "sc-engine/gsup/ipa.h"
#include "softcrypto/milenage.h"
#include "softcrypto/software_aes.h"
#include "softcrypto/software_keys.h"
#include "tests/e2e/kmsd_fixture.h"

namespace simkms::e2e {
namespace {

using Kind = protocol::ChipOutcome::Kind;

constexpr int kGsupConnections = 4;
constexpr std::size_t kGsupInFlight = 16;  // per connection, under kmsd's 32 answers owed
constexpr int kGsupSubscribers = 8;        // the chips n = 100..107 of the range, contracted
constexpr int kGateways = 2;
constexpr int kChipsPerGateway = 10;       // first calls, n = 0..19
// SIGTERM once this many GSUP answers and first calls have come back.
constexpr int kAnswersBeforeStop = 150;
constexpr int kFirstCallsBeforeStop = 2;
// No progress on a connection for this long fails the test (kmsd hangs or dropped an answer).
constexpr int kStallMs = 15000;

void SendAll(int fd, const Bytes& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;  // kmsd closed: what was not sent is not owed an answer
    done += static_cast<std::size_t>(n);
  }
}

// What the test threads tell the main thread.
struct Progress {
  std::mutex mu;
  std::condition_variable changed;
  int gsup_answers = 0;          // guarded by mu
  int first_calls_done = 0;      // guarded by mu
  bool sigterm_sent = false;     // guarded by mu
  int answers_after_sigterm = 0; // guarded by mu
  std::atomic<int> gsup_in_flight{0};
  std::atomic<int> chip_in_flight{0};

  void Answered(bool gsup) {
    std::lock_guard lock(mu);
    (gsup ? gsup_answers : first_calls_done) += 1;
    if (sigterm_sent) ++answers_after_sigterm;
    changed.notify_all();
  }
};

// One GSUP peer: keeps kGsupInFlight SEND_AUTH_INFO requests (2 vectors each)
// in flight, round the subscribers, until kmsd closes the connection.
struct GsupLoad {
  std::vector<std::string> imsis;
  int index = 0;
  std::map<std::string, int> vectors;  // received, per IMSI
  int errors = 0;                      // anything but a SEND_AUTH_INFO_RESULT
  int mismatched = 0;                  // an answer for another IMSI than the oldest request
  int unanswered = 0;                  // in flight when kmsd closed
  bool stalled = false;

  // fd: a connection to kmsd's port, closed here.
  void Run(int fd, Progress& progress) {
    if (fd < 0) {
      stalled = true;
      return;
    }
    gsup::IpaDecoder decoder;
    std::deque<std::string> asked;
    bool identified = false;
    uint8_t chunk[4096];
    for (;;) {
      while (identified && asked.size() < kGsupInFlight) {
        const gsup::Message sai = gsup::MakeSendAuthInfoRequest(imsis[index++ % imsis.size()], 2);
        SendAll(fd, gsup::EncodeGsupFrame(gsup::Encode(sai).value()).value());
        asked.push_back(sai.imsi);
        ++progress.gsup_in_flight;
      }
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, kStallMs) <= 0) {
        stalled = true;
        break;
      }
      ssize_t n = recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) break;  // kmsd closed the connection
      ByteView input(chunk, static_cast<std::size_t>(n));
      while (!input.empty()) {
        auto consumed = decoder.Feed(input);
        if (!consumed.ok()) {
          ++errors;
          input = {};
          break;
        }
        input = input.subspan(*consumed);
        auto frame = decoder.Pop();
        if (!frame) continue;
        auto classified = gsup::ClassifyFrame(*frame);
        if (!classified.ok()) continue;
        if (classified->kind == gsup::Classified::Kind::kIdGet) {
          SendAll(fd, gsup::EncodeIdResp({{gsup::IdTag::kUnit, "0/0/0"}, {gsup::IdTag::kSerNr, "STOP-MSC"}}).value());
          identified = true;
          continue;
        }
        if (classified->kind != gsup::Classified::Kind::kGsup) continue;
        auto answer = gsup::Decode(classified->body);
        if (!answer.ok() || asked.empty()) {
          ++errors;
          continue;
        }
        if (answer->imsi != asked.front()) ++mismatched;
        if (answer->type == gsup::MessageType::kSendAuthInfoResult) {
          vectors[asked.front()] += static_cast<int>(answer->tuples.size());
        } else {
          ++errors;
        }
        asked.pop_front();
        --progress.gsup_in_flight;
        progress.Answered(/*gsup=*/true);
      }
    }
    unanswered = static_cast<int>(asked.size());
    progress.gsup_in_flight -= unanswered;
    close(fd);
  }
};

// One OTA gateway: first calls of its chips one after the other (HELLO,
// CHALLENGE, CONFIRM, COMMIT) until kmsd closes the connection.
struct FirstCallLoad {
  std::vector<protocol::ChipProtocolState> chips;
  std::map<std::string, std::string> committed_kcv;  // IMSI -> KCV of the Ki_2 the COMMIT installed
  std::vector<std::string> confirmed;                // CONFIRM sent (whatever came back)
  int unexpected = 0;                                // an ERROR, or a packet the chip refused
  bool stalled = false;

  // fd: a connection to kmsd's port, closed here.
  void Run(int fd, Progress& progress) {
    if (fd < 0) {
      stalled = true;
      return;
    }
    protocol::ChipRole role([]() -> StatusOr<std::string> { return std::string(); });
    protocol::GatewayFrameDecoder decoder;
    // The next frame to the chip; nullopt once kmsd closed (or stalled).
    auto exchange = [&](const std::string& imsi, const Bytes& packet) -> std::optional<Bytes> {
      SendAll(fd, protocol::EncodeGatewayFrame({protocol::GatewayFrameType::kFromChip, imsi, packet}).value());
      ++progress.chip_in_flight;
      struct Done {
        Progress& p;
        ~Done() { --p.chip_in_flight; }
      } done{progress};
      uint8_t chunk[4096];
      for (;;) {
        if (auto frame = decoder.Pop()) return frame->payload;
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, kStallMs) <= 0) {
          stalled = true;
          return std::nullopt;
        }
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return std::nullopt;
        ByteView input(chunk, static_cast<std::size_t>(n));
        while (!input.empty()) {
          auto consumed = decoder.Feed(input);
          if (!consumed.ok()) return std::nullopt;
          input = input.subspan(*consumed);
        }
      }
    };
    for (protocol::ChipProtocolState& chip : chips) {
      auto challenge = exchange(chip.imsi, role.Start(chip).value());
      if (!challenge) break;
      auto confirm = role.OnPacket(chip, *challenge);
      if (!confirm.ok() || confirm->kind != Kind::kSendPacket) {
        ++unexpected;
        continue;
      }
      confirmed.push_back(chip.imsi);
      auto commit = exchange(chip.imsi, confirm->packet);
      if (!commit) break;
      auto done = role.OnPacket(chip, *commit);
      if (!done.ok() || done->kind != Kind::kCommitted) {
        ++unexpected;
        continue;
      }
      committed_kcv[chip.imsi] = ToHex(kms::SoftwareAesKcv(done->new_ki2).value());
      progress.Answered(/*gsup=*/false);
    }
    close(fd);
  }
};

class KmsdGracefulStopTest : public KmsdFixture {
 protected:
  // The SEQ of the next vector kmsd gives for `imsi` (a contracted chip, vectors under Ki_1).
  uint64_t NextSeq(const std::string& imsi) {
    const protocol::ChipProtocolState chip = MakeChip(imsi);
    int fd = ConnectLoopback(gsup_port_);
    EXPECT_GE(fd, 0);
    gsup::IpaDecoder decoder;
    const gsup::Message sai = gsup::MakeSendAuthInfoRequest(imsi, 1);
    SendAll(fd, gsup::EncodeIdResp({{gsup::IdTag::kUnit, "0/0/0"}, {gsup::IdTag::kSerNr, "CHECK"}}).value());
    SendAll(fd, gsup::EncodeGsupFrame(gsup::Encode(sai).value()).value());
    std::optional<gsup::Message> answer;
    uint8_t chunk[4096];
    while (!answer) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, kStallMs) <= 0) break;
      ssize_t n = recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      ByteView input(chunk, static_cast<std::size_t>(n));
      while (!input.empty() && !answer) {
        auto consumed = decoder.Feed(input);
        if (!consumed.ok()) break;
        input = input.subspan(*consumed);
        auto frame = decoder.Pop();
        if (!frame) continue;
        auto classified = gsup::ClassifyFrame(*frame);
        if (classified.ok() && classified->kind == gsup::Classified::Kind::kGsup) {
          answer = gsup::Decode(classified->body).value();
        }
      }
    }
    close(fd);
    if (!answer || answer->tuples.size() != 1) {
      ADD_FAILURE() << "no vector for " << imsi;
      return 0;
    }
    auto ki1 = kms::SoftwareAes128::Create(chip.base_key).value();
    kms::Block opc{};
    std::copy(chip.opc.reveal().begin(), chip.opc.reveal().end(), opc.begin());
    auto autn = kms::CheckAutn(*ki1, opc, answer->tuples[0].rand, answer->tuples[0].autn);
    if (!autn.ok()) {
      ADD_FAILURE() << "AUTN does not verify under the chip's Ki_1 for " << imsi;
      return 0;
    }
    return kms::SqnToUint64(autn->sqn) >> 5;
  }
};

TEST_F(KmsdGracefulStopTest, EveryAnswerWhoseWorkIsDurableReachesItsPeer) {
  std::vector<std::string> subscribers;
  for (int n = 100; n < 100 + kGsupSubscribers; ++n) subscribers.push_back(ContractChip(n));
  std::vector<GsupLoad> gsup(kGsupConnections);
  for (GsupLoad& g : gsup) g.imsis = subscribers;
  std::vector<FirstCallLoad> gateways(kGateways);
  for (int g = 0; g < kGateways; ++g) {
    for (int i = 0; i < kChipsPerGateway; ++i) gateways[g].chips.push_back(MakeChip(ContractChip(g * kChipsPerGateway + i)));
  }
  ASSERT_FALSE(HasFailure());

  Progress progress;
  std::vector<std::thread> threads;
  for (GsupLoad& g : gsup) threads.emplace_back([&, fd = ConnectLoopback(gsup_port_)] { g.Run(fd, progress); });
  for (FirstCallLoad& g : gateways) {
    threads.emplace_back([&, fd = ConnectLoopback(chip_port_)] { g.Run(fd, progress); });
  }

  int gsup_in_flight_at_sigterm = 0, chip_in_flight_at_sigterm = 0;
  {
    std::unique_lock lock(progress.mu);
    const bool loaded = progress.changed.wait_for(lock, std::chrono::milliseconds(kStallMs), [&] {
      return progress.gsup_answers >= kAnswersBeforeStop && progress.first_calls_done >= kFirstCallsBeforeStop;
    });
    EXPECT_TRUE(loaded) << progress.gsup_answers << " GSUP answers, " << progress.first_calls_done
                        << " first calls before the stall\n" << kmsd_log();
    gsup_in_flight_at_sigterm = progress.gsup_in_flight.load();
    chip_in_flight_at_sigterm = progress.chip_in_flight.load();
    kmsd_->Signal(SIGTERM);
    progress.sigterm_sent = true;
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(kmsd_->Wait(), 0) << kmsd_log();
  const std::string stop_log = kmsd_log();
  EXPECT_NE(stop_log.find("every connection closed with its answers written"), std::string::npos) << stop_log;

  std::map<std::string, int> vectors_received;
  int gsup_answers = 0, unanswered = 0;
  for (const GsupLoad& g : gsup) {
    EXPECT_FALSE(g.stalled) << "a GSUP connection saw no answer for " << kStallMs << " ms";
    EXPECT_EQ(g.errors, 0);
    EXPECT_EQ(g.mismatched, 0);
    unanswered += g.unanswered;
    for (const auto& [imsi, n] : g.vectors) {
      vectors_received[imsi] += n;
      gsup_answers += n / 2;
    }
  }
  for (const FirstCallLoad& g : gateways) {
    EXPECT_FALSE(g.stalled) << "a gateway connection saw no answer for " << kStallMs << " ms";
    EXPECT_EQ(g.unexpected, 0);
  }

  // The same token and database, as after a restart.
  StartKmsd();
  ASSERT_FALSE(HasFatalFailure());
  int durable_vectors = 0;
  for (const std::string& imsi : subscribers) {
    const int durable = static_cast<int>(NextSeq(imsi)) - 1;
    durable_vectors += durable;
    EXPECT_EQ(durable, vectors_received[imsi])
        << imsi << ": the SQN on disk accounts for " << durable << " vectors, the GSUP peers received "
        << vectors_received[imsi];
  }
  int confirmed = 0, committed = 0, personalized = 0;
  for (const FirstCallLoad& g : gateways) {
    confirmed += static_cast<int>(g.confirmed.size());
    committed += static_cast<int>(g.committed_kcv.size());
    for (const std::string& imsi : g.confirmed) {
      const std::string snapshot = SubscriberSnapshot(imsi);
      const bool in_db = snapshot.find("PERSONALIZED") != std::string::npos;
      personalized += in_db ? 1 : 0;
      auto got = g.committed_kcv.find(imsi);
      if (got == g.committed_kcv.end()) {
        EXPECT_FALSE(in_db) << imsi << ": Ki_2 committed but the chip never got its COMMIT: " << snapshot;
      } else {
        EXPECT_TRUE(in_db) << imsi << ": the chip got a COMMIT the database does not hold: " << snapshot;
        EXPECT_NE(snapshot.find(got->second), std::string::npos) << snapshot;
      }
    }
  }
  std::cout << "graceful stop: at SIGTERM " << gsup_in_flight_at_sigterm << " GSUP requests and "
            << chip_in_flight_at_sigterm << " chip packets in flight; " << gsup_answers << " SAI answers received ("
            << progress.answers_after_sigterm << " answers of both kinds after SIGTERM), " << unanswered
            << " requests unanswered at close; " << durable_vectors << " vectors durable, "
            << [&] {
                 int received = 0;
                 for (const auto& [imsi, n] : vectors_received) received += n;
                 return received;
               }()
            << " received; first calls: " << confirmed << " confirmed, " << committed << " COMMITs received, "
            << personalized << " Ki_2 durable\n";
}

}  // namespace
}  // namespace simkms::e2e
