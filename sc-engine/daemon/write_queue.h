// The bytes a session has handed to its socket but the peer has not taken yet,
// bounded: a peer that sends and never reads (it keeps pinging, or pipelines
// requests) would otherwise grow the queue without end. Everything leaves the
// queue wiped: answers carry key material (GSUP's CK, IK, Kc, RES).
#pragma once

#include <cstddef>
#include <deque>

#include "base/bytes.h"
#include "base/wiped_buffer.h"

namespace simkms::daemon {

class WriteQueue {
 public:
  explicit WriteQueue(std::size_t max_bytes) : max_bytes_(max_bytes) {}
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;
  ~WriteQueue() { Clear(); }

  // False, and the bytes wiped, if they would take the queue beyond max_bytes:
  // the session is to close (a slow reader), not to wait.
  bool Push(Bytes bytes);
  bool empty() const { return queue_.empty(); }
  std::size_t size() const { return queue_.size(); }
  std::size_t queued_bytes() const { return queued_bytes_; }
  // What to write next; valid until PopFront or Clear.
  const Bytes& front() const { return queue_.front().get(); }
  void PopFront();
  void Clear();

 private:
  const std::size_t max_bytes_;
  std::deque<WipedBuffer<Bytes>> queue_;
  std::size_t queued_bytes_ = 0;
};

}  // namespace simkms::daemon
