// What a session on a raw stream does that is not its protocol: the chip
// gateway's frames and GSUP's IPA share it (after Beast's advanced_server_flex,
// whose sessions share the stream handling and differ in what they read). It
// holds the stream (TCP, or TLS over TCP), a deadline timer, the connection's
// slot under its listener's cap (connection_slot_internal.h) and the bounded write
// queue (write_queue.h); it does the TLS handshake within a deadline, and a
// close that counts its reason, ends TLS with close_notify within a deadline
// (a peer cannot hold the session open by never answering it) and wipes what
// was not sent. When kmsd stops (graceful_stop.h) it closes once it owes
// its peer nothing: the derived session counts the answers it owes
// (OweReply, ReplyDone), and a stopping session closes when they are all
// written.
//
// Internal to the listeners' .cc files: it pulls in Asio's SSL stream.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <memory>
#include <type_traits>

#include "base/bytes.h"
#include "sc-engine/daemon/connection_slot_internal.h"
#include "sc-engine/daemon/graceful_stop.h"
#include "sc-engine/daemon/metrics.h"
#include "sc-engine/daemon/write_queue.h"

namespace simkms::daemon {

using TlsSocket = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

struct StreamSessionOptions {
  Metrics& metrics;
  const char* closed_metric;  // counter of closes, labelled by reason
  std::size_t max_queued_bytes;
  // For the TLS handshake, and for close_notify to be answered.
  std::chrono::milliseconds tls_timeout;
  GracefulStop& graceful_stop;
};

// Derived: the protocol session (CRTP), made with std::make_shared; its
// handlers hold it (shared_from_this) as the base's do. Stream:
// boost::asio::ip::tcp::socket or TlsSocket.
template <class Derived, class Stream>
class StreamSession : public std::enable_shared_from_this<Derived> {
 protected:
  static constexpr bool kTls = std::is_same_v<Stream, TlsSocket>;

  StreamSession(Stream stream, ConnectionSlot slot, const StreamSessionOptions& options)
      : stream_(std::move(stream)),
        timer_(stream_.get_executor()),
        options_(options),
        slot_(std::move(slot)),
        writes_(options.max_queued_bytes) {}

  boost::asio::ip::tcp::socket& Socket() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  // Joins kmsd's stop: called once, first thing, by the derived Start().
  void JoinGracefulStop() {
    membership_ = options_.graceful_stop.Join([weak = this->weak_from_this(), executor = stream_.get_executor()] {
      boost::asio::post(executor, [weak] {
        if (auto self = weak.lock()) self->StopWhenIdle();
      });
    });
  }

  // An answer taken on (a request read, its work started), and that answer
  // queued for writing or given up. A stopping session closes only once every
  // answer it took on is written.
  void OweReply() {
    ++owed_replies_;
    membership_.Owe(1);
  }
  void ReplyDone() {
    --owed_replies_;
    membership_.Owe(-1);
    FinishIfStoppedAndIdle();
  }

  // TLS: the server handshake within tls_timeout, then next() (a failure
  // closes the session). Plaintext: next() at once.
  template <class Next>
  void Handshake(Next next) {
    if constexpr (kTls) {
      timer_.expires_after(options_.tls_timeout);
      timer_.async_wait([this, weak = this->weak_from_this()](auto ec) {
        if (auto self = weak.lock(); self && !ec) Close("tls_handshake_timeout");
      });
      stream_.async_handshake(boost::asio::ssl::stream_base::server,
                              [this, self = this->shared_from_this(), next = std::move(next)](auto ec) mutable {
                                timer_.cancel();
                                if (closed_) return;
                                if (ec) return Close("tls_handshake_failed");
                                handshake_done_ = true;
                                next();
                              });
    } else {
      next();
    }
  }

  // Queues bytes to send; a peer that lets max_queued_bytes pile up is a slow
  // reader and is disconnected (counted as reason "slow_reader").
  void Write(Bytes bytes) {
    if (closed_) {
      WipedBuffer<Bytes> dropped(std::move(bytes));
      return;
    }
    if (!writes_.Push(std::move(bytes))) return Close("slow_reader");
    membership_.Owe(1);
    if (writes_.size() == 1) WriteNext();
  }

  // Once; counts the reason. A TLS session whose handshake is done and whose
  // writes have all gone out sends close_notify and waits for the peer's, at
  // most tls_timeout; otherwise (a write stuck or failed) the socket closes at
  // once, as a plaintext one does.
  void Close(const char* reason) {
    if (closed_) return;
    closed_ = true;
    options_.metrics.Count(options_.closed_metric, "reason", reason);
    timer_.cancel();
    if constexpr (kTls) {
      if (handshake_done_ && writes_.empty()) return ShutdownTls();
    }
    // Closed before the queue is wiped: a write in progress may be reading
    // writes_.front() on another I/O thread until its socket is closed.
    CloseSocket();
    membership_.Owe(-static_cast<int64_t>(writes_.size()));
    writes_.Clear();
  }

  bool closed() const { return closed_; }
  std::size_t queued_writes() const { return writes_.size(); }

  Stream stream_;
  // The derived session's deadlines while open; the TLS shutdown's once closed.
  boost::asio::steady_timer timer_;

 private:
  void WriteNext() {
    boost::asio::async_write(stream_, boost::asio::buffer(writes_.front()),
                             [this, self = this->shared_from_this()](auto ec, std::size_t) {
                               if (closed_) return;
                               if (ec) return Close("write_error");
                               writes_.PopFront();
                               membership_.Owe(-1);
                               if (!writes_.empty()) return WriteNext();
                               FinishIfStoppedAndIdle();
                             });
  }

  // On the strand, when kmsd begins to stop: no new request is taken on (the
  // derived session reads none), and the session closes once it owes nothing.
  void StopWhenIdle() {
    stop_requested_ = true;
    FinishIfStoppedAndIdle();
  }

  void FinishIfStoppedAndIdle() {
    if (!stop_requested_ || closed_ || owed_replies_ > 0 || !writes_.empty()) return;
    if constexpr (kTls) {
      Close("stopping");  // close_notify after the last answer, as any close
    } else {
      LingeringClose();
    }
  }

  // Plaintext: FIN after the last answer, then whatever the peer still sends
  // is read and dropped until it closes (or the drain deadline, at most
  // kMaxLinger): closing a socket with unread bytes sends a RST, and a RST can
  // destroy answers the peer has not received yet.
  void LingeringClose() {
    closed_ = true;
    options_.metrics.Count(options_.closed_metric, "reason", "stopping");
    boost::system::error_code ignored;
    Socket().cancel(ignored);  // a read in progress ends (aborted; its handler sees closed())
    Socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    timer_.expires_at(std::min(options_.graceful_stop.deadline(), std::chrono::steady_clock::now() + kMaxLinger));
    timer_.async_wait([this, self = this->shared_from_this()](auto ec) {
      if (!ec) CloseSocket();  // the peer did not close in time; ends the discarding read
    });
    DiscardUntilPeerCloses();
  }

  void DiscardUntilPeerCloses() {
    Socket().async_read_some(boost::asio::buffer(discarded_),
                             [this, self = this->shared_from_this()](auto ec, std::size_t) {
                               if (!ec) return DiscardUntilPeerCloses();
                               timer_.cancel();
                               CloseSocket();
                             });
  }

  void ShutdownTls() {
    boost::system::error_code ignored;
    Socket().cancel(ignored);  // the pending read ends (aborted); the shutdown reads the peer's close_notify
    timer_.expires_after(options_.tls_timeout);
    timer_.async_wait([this, self = this->shared_from_this()](auto ec) {
      if (!ec) CloseSocket();  // the peer did not answer in time; aborts the shutdown
    });
    stream_.async_shutdown([this, self = this->shared_from_this()](auto) {
      timer_.cancel();
      CloseSocket();
    });
  }

  void CloseSocket() {
    boost::system::error_code ignored;
    Socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    Socket().close(ignored);
  }

  static constexpr std::chrono::seconds kMaxLinger{2};

  const StreamSessionOptions options_;
  ConnectionSlot slot_;
  WriteQueue writes_;
  GracefulStop::Membership membership_;
  int owed_replies_ = 0;
  bool stop_requested_ = false;
  std::array<uint8_t, 256> discarded_{};  // what a peer sends after the stop's FIN
  bool handshake_done_ = !kTls;
  bool closed_ = false;
};

}  // namespace simkms::daemon
