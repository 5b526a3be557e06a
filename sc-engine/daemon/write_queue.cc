#include "sc-engine/daemon/write_queue.h"

namespace simkms::daemon {

bool WriteQueue::Push(Bytes bytes) {
  if (queued_bytes_ + bytes.size() > max_bytes_) {
    SecureWipe(bytes.data(), bytes.size());
    return false;
  }
  queued_bytes_ += bytes.size();
  queue_.push_back(std::move(bytes));
  return true;
}

void WriteQueue::PopFront() {
  Bytes& sent = queue_.front();
  queued_bytes_ -= sent.size();
  SecureWipe(sent.data(), sent.size());
  queue_.pop_front();
}

void WriteQueue::Clear() {
  for (Bytes& b : queue_) SecureWipe(b.data(), b.size());
  queue_.clear();
  queued_bytes_ = 0;
}

}  // namespace simkms::daemon
