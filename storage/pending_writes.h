// PendingWrites: a transaction's writes held in memory until Commit, for an engine
// whose database cannot hold them itself before then (PostgreSQL sends them all at
// Commit, in one pipeline). Reads of the transaction see them through Find and
// through a merging iterator over the database's own iterator, so a transaction
// reads its own writes. Nested save points undo the writes made since.
//
// INTERNAL to simkms_storage (the PostgreSQL engine's transaction).
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/kv_engine.h"

namespace simkms::storage {

class PendingWrites {
 public:
  // Per key of a family: the value written, or nullopt for a delete.
  using Family = std::map<std::string, std::optional<std::string>, std::less<>>;

  void Put(Cf cf, std::string_view key, std::string_view value);
  void Delete(Cf cf, std::string_view key);

  // nullptr: the transaction did not write the key; else its value (nullopt: deleted).
  const std::optional<std::string>* Find(Cf cf, std::string_view key) const;

  void SetSavePoint();
  void RollbackToSavePoint();  // no save point: undoes nothing
  void PopSavePoint();

  // Bytes of keys and values written (overwritten ones included), as RocksDB counts.
  std::size_t DataSize() const { return data_size_; }
  bool empty() const;
  const Family& family(Cf cf) const { return families_[cf]; }

  // `base` (the database's view) with this buffer's writes to `cf` over it. The
  // iterator reads the buffer as it is when positioned: no write between its uses.
  std::unique_ptr<KvIterator> NewMergingIterator(Cf cf, std::unique_ptr<KvIterator> base) const;

 private:
  void Write(Cf cf, std::string_view key, std::optional<std::string> value);

  // What a write replaced, to undo it: the key's previous entry (nullopt: none).
  struct Undo {
    Cf cf;
    std::string key;
    std::optional<std::optional<std::string>> previous;
  };
  struct SavePoint {
    std::size_t undo_size;
    std::size_t data_size;
  };
  std::array<Family, kNumCfs> families_;
  std::vector<Undo> undo_;  // kept only while a save point is set
  std::vector<SavePoint> save_points_;
  std::size_t data_size_ = 0;
};

}  // namespace simkms::storage
