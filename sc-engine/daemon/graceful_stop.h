// How kmsd stops without breaking its word (docs/operations.md, "Start, stop,
// crash"): a reply whose work was done -- an SQN made durable, a Ki_2
// committed -- is written before the connection closes, unless the drain
// timeout passes first (then what is still owed is logged as dropped).
//
// Every connection's session joins when it starts and leaves when it is
// destroyed, which is after its last handler: the crypto jobs, the store's
// completions and the posted answers all hold the session, so "every session
// has left" means "every reply has been written or given up". Begin() marks
// the stop (new connections are refused, open ones take on no new request) and
// asks every session to close once it owes nothing; AwaitDrained() waits for
// them to leave, at most the drain timeout.
//
// Thread-safe. A session's membership is used on its strand only.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace simkms::daemon {

class GracefulStop {
 public:
  // A session's place in the stop: it counts as open until this is destroyed
  // (or assigned over). Movable; empty when default-made.
  class Membership {
   public:
    Membership() = default;

    // Replies (or frames) the session owes its peer: taken on (+1), then
    // written or given up (-1). Only for the count logged if the drain times out.
    void Owe(int64_t delta);

   private:
    friend class GracefulStop;
    struct Place {
      GracefulStop* stop;
      uint64_t id;
      int64_t owed = 0;
    };
    struct Leave {
      void operator()(Place* place) const;
    };
    explicit Membership(Place* place) : place_(place) {}
    std::unique_ptr<Place, Leave> place_;
  };

  GracefulStop() = default;
  GracefulStop(const GracefulStop&) = delete;
  GracefulStop& operator=(const GracefulStop&) = delete;

  // Called by a session when it starts. on_stop runs once when the stop begins
  // (at once, on this thread, if it has begun), on the thread that calls
  // Begin(): it must only post to the session's strand. The GracefulStop must
  // outlive the membership.
  Membership Join(std::function<void()> on_stop);

  // True once the stop has begun: accept nothing, take on no new request.
  bool stopping() const { return stopping_.load(); }

  // Begins the stop: stopping() turns true, the drain deadline is set
  // drain_timeout from now, and every open session's on_stop runs. False (and
  // nothing done) if it had begun already.
  bool Begin(std::chrono::milliseconds drain_timeout);
  // Blocks until Begin() has been called.
  void AwaitBegun();
  // After Begin(): blocks until every session has left (true) or the drain
  // deadline passed (false).
  bool AwaitDrained();
  // After Begin(): the drain deadline (a session closing gracefully waits for
  // its peer at most until then).
  std::chrono::steady_clock::time_point deadline() const;

  std::size_t open_sessions() const;
  // What the open sessions owe (Membership::Owe), summed.
  int64_t owed() const { return owed_.load(); }

 private:
  void Leave(uint64_t id, int64_t owed);

  std::atomic<bool> stopping_{false};  // set under mu_, read anywhere
  std::atomic<int64_t> owed_{0};
  mutable std::mutex mu_;
  std::condition_variable changed_;                  // Begin, a session leaving
  std::map<uint64_t, std::function<void()>> open_;  // id -> on_stop; guarded by mu_
  uint64_t next_id_ = 1;                             // guarded by mu_
  std::chrono::steady_clock::time_point deadline_;   // guarded by mu_
};

}  // namespace simkms::daemon
