#include "storage/pending_writes.h"

#include <utility>

namespace simkms::storage {

void PendingWrites::Put(Cf cf, std::string_view key, std::string_view value) {
  data_size_ += key.size() + value.size();
  Write(cf, key, std::string(value));
}

void PendingWrites::Delete(Cf cf, std::string_view key) {
  data_size_ += key.size();
  Write(cf, key, std::nullopt);
}

void PendingWrites::Write(Cf cf, std::string_view key, std::optional<std::string> value) {
  Family& f = families_[cf];
  auto it = f.find(key);
  if (!save_points_.empty()) {
    Undo undo{cf, std::string(key), std::nullopt};
    if (it != f.end()) undo.previous = it->second;
    undo_.push_back(std::move(undo));
  }
  if (it != f.end()) {
    it->second = std::move(value);
  } else {
    f.emplace(std::string(key), std::move(value));
  }
}

const std::optional<std::string>* PendingWrites::Find(Cf cf, std::string_view key) const {
  const Family& f = families_[cf];
  auto it = f.find(key);
  return it == f.end() ? nullptr : &it->second;
}

bool PendingWrites::empty() const {
  for (const Family& f : families_) {
    if (!f.empty()) return false;
  }
  return true;
}

void PendingWrites::SetSavePoint() { save_points_.push_back({undo_.size(), data_size_}); }

void PendingWrites::RollbackToSavePoint() {
  if (save_points_.empty()) return;
  const SavePoint sp = save_points_.back();
  save_points_.pop_back();
  while (undo_.size() > sp.undo_size) {
    Undo& u = undo_.back();
    Family& f = families_[u.cf];
    if (u.previous.has_value()) {
      f[u.key] = std::move(*u.previous);
    } else {
      f.erase(u.key);
    }
    undo_.pop_back();
  }
  data_size_ = sp.data_size;
}

void PendingWrites::PopSavePoint() {
  if (save_points_.empty()) return;
  save_points_.pop_back();
  // An outer save point still undoes these writes; with none left, nothing will.
  if (save_points_.empty()) undo_.clear();
}

namespace {

// The buffer's entries over the database's, in key order either way; a buffered
// entry hides the database's entry of the same key, a buffered delete hides both.
class MergingIterator final : public KvIterator {
 public:
  MergingIterator(const PendingWrites::Family& delta, std::unique_ptr<KvIterator> base)
      : delta_(delta), base_(std::move(base)), d_(delta_.end()) {}

  bool Valid() const override { return base_->status().ok() && current_ != kNone; }
  void SeekToFirst() override {
    forward_ = true;
    base_->SeekToFirst();
    d_ = delta_.begin();
    Settle();
  }
  void SeekToLast() override {
    forward_ = false;
    base_->SeekToLast();
    d_ = delta_.empty() ? delta_.end() : std::prev(delta_.end());
    Settle();
  }
  void Seek(std::string_view key) override {
    forward_ = true;
    base_->Seek(key);
    d_ = delta_.lower_bound(key);
    Settle();
  }
  void SeekForPrev(std::string_view key) override {
    forward_ = false;
    base_->SeekForPrev(key);
    d_ = LastAtMost(key);
    Settle();
  }
  void Next() override {
    if (!Valid()) return;
    if (!forward_) {
      // Turn around: both sides to the first key after the current one.
      const std::string k(key());
      forward_ = true;
      base_->Seek(k);
      if (base_->Valid() && base_->key() == k) base_->Next();
      d_ = delta_.upper_bound(k);
    } else if (current_ == kDelta) {
      ++d_;
    } else {
      base_->Next();
    }
    Settle();
  }
  void Prev() override {
    if (!Valid()) return;
    if (forward_) {
      const std::string k(key());
      forward_ = false;
      base_->SeekForPrev(k);
      if (base_->Valid() && base_->key() == k) base_->Prev();
      d_ = LastBefore(k);
    } else if (current_ == kDelta) {
      d_ = d_ == delta_.begin() ? delta_.end() : std::prev(d_);
    } else {
      base_->Prev();
    }
    Settle();
  }
  std::string_view key() const override { return current_ == kDelta ? std::string_view(d_->first) : base_->key(); }
  std::string_view value() const override {
    return current_ == kDelta ? std::string_view(*d_->second) : base_->value();
  }
  Status status() const override { return base_->status(); }

 private:
  enum Side { kNone, kBase, kDelta };

  PendingWrites::Family::const_iterator LastAtMost(std::string_view key) const {
    auto it = delta_.upper_bound(key);
    return it == delta_.begin() ? delta_.end() : std::prev(it);
  }
  PendingWrites::Family::const_iterator LastBefore(std::string_view key) const {
    auto it = delta_.lower_bound(key);
    return it == delta_.begin() ? delta_.end() : std::prev(it);
  }
  void StepDelta() {
    if (forward_) {
      ++d_;
    } else {
      d_ = d_ == delta_.begin() ? delta_.end() : std::prev(d_);
    }
  }
  void StepBase() {
    if (forward_) {
      base_->Next();
    } else {
      base_->Prev();
    }
  }
  // Picks the side whose key comes first in the direction of travel, skipping
  // buffered deletes and the database entries the buffer replaces.
  void Settle() {
    for (;;) {
      current_ = kNone;
      const bool b = base_->Valid();
      const bool d = d_ != delta_.end();
      if (!b && !d) return;
      if (!d) {
        current_ = kBase;
        return;
      }
      if (b) {
        const int c = base_->key().compare(d_->first);
        const bool base_first = forward_ ? c < 0 : c > 0;
        if (base_first) {
          current_ = kBase;
          return;
        }
        if (c == 0) StepBase();  // the buffer's entry replaces the database's
      }
      if (d_->second.has_value()) {
        current_ = kDelta;
        return;
      }
      StepDelta();  // a buffered delete
    }
  }

  const PendingWrites::Family& delta_;
  std::unique_ptr<KvIterator> base_;
  PendingWrites::Family::const_iterator d_;
  bool forward_ = true;
  Side current_ = kNone;
};

}  // namespace

std::unique_ptr<KvIterator> PendingWrites::NewMergingIterator(Cf cf, std::unique_ptr<KvIterator> base) const {
  return std::make_unique<MergingIterator>(families_[cf], std::move(base));
}

}  // namespace simkms::storage
