#include "sc-engine/daemon/write_queue.h"

namespace simkms::daemon {

bool WriteQueue::Push(Bytes bytes) {
  WipedBuffer<Bytes> owned(std::move(bytes));  // refused or sent, it leaves wiped
  if (queued_bytes_ + owned.get().size() > max_bytes_) return false;
  queued_bytes_ += owned.get().size();
  queue_.push_back(std::move(owned));
  return true;
}

void WriteQueue::PopFront() {
  queued_bytes_ -= queue_.front().get().size();
  queue_.pop_front();
}

void WriteQueue::Clear() {
  queue_.clear();
  queued_bytes_ = 0;
}

}  // namespace simkms::daemon
