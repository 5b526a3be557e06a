// RawDatabase: a Store's database read and written around the Store, for the tests
// that corrupt, move, delete or replay records and check that the Store or
// VerifyAudit catches it -- one interface, so that each such test runs unchanged on
// both engines:
//   - RocksDB: the DB directory opened with RocksDB directly (the Store must be
//     closed first: RocksDB's LOCK);
//   - PostgreSQL: plain SQL over libpq on the family's table (`subscribers`,
//     `audit` restricted to node 1, ...), i.e. what a database administrator can do.
// Families by their Store::ColumnFamilyNames() name; keys and values as the engine
// holds them. A failed operation fails the calling test.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/store.h"
#include "tests/support/postgres_server.h"
#include "tests/support/status_testing.h"

namespace simkms::storage::testing {

class RawDatabase {
 public:
  virtual ~RawDatabase() = default;
  virtual std::optional<std::string> Get(const std::string& cf, const std::string& key) = 0;
  virtual void Put(const std::string& cf, const std::string& key, const std::string& value) = 0;
  virtual void Delete(const std::string& cf, const std::string& key) = 0;
  // Every key and value of the family, in key order.
  virtual std::vector<std::pair<std::string, std::string>> All(const std::string& cf) = 0;
  // Keys of every family together.
  std::size_t TotalKeys() {
    std::size_t n = 0;
    for (const std::string& cf : Store::ColumnFamilyNames()) n += All(cf).size();
    return n;
  }
};

// The RocksDB DB in directory `path` (Store closed!).
class RawDb final : public RawDatabase {
 public:
  explicit RawDb(const std::string& path) {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
    for (const auto& name : Store::ColumnFamilyNames()) cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(rocksdb::DBOptions(), path, cfs, &handles, &db);
    EXPECT_OK(s);
    db_.reset(db);
    names_.push_back(rocksdb::kDefaultColumnFamilyName);
    for (const auto& name : Store::ColumnFamilyNames()) names_.push_back(name);
    for (auto* h : handles) handles_.emplace_back(h);
  }
  ~RawDb() override {
    handles_.clear();
    db_.reset();
  }
  std::optional<std::string> Get(const std::string& cf_name, const std::string& key) override {
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(cf_name), key, &v);
    if (s.IsNotFound()) return std::nullopt;
    EXPECT_OK(s);
    return v;
  }
  void Put(const std::string& cf_name, const std::string& key, const std::string& value) override {
    rocksdb::WriteOptions wo;  // not synced: the test process reopens, it does not crash
    EXPECT_OK(db_->Put(wo, cf(cf_name), key, value));
  }
  void Delete(const std::string& cf_name, const std::string& key) override {
    EXPECT_OK(db_->Delete(rocksdb::WriteOptions(), cf(cf_name), key));
  }
  std::vector<std::pair<std::string, std::string>> All(const std::string& cf_name) override {
    std::vector<std::pair<std::string, std::string>> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(cf_name)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) out.emplace_back(it->key().ToString(), it->value().ToString());
    EXPECT_OK(it->status());
    return out;
  }

 private:
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) {
    for (std::size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == name) return handles_[i].get();
    }
    ADD_FAILURE() << "no column family " << name;
    return nullptr;
  }

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<rocksdb::ColumnFamilyHandle>> handles_;
};

// The PostgreSQL database at `conninfo` (URI or key=value), as node 1 (the node of
// the Store tests) for the audit family: binary parameters and results.
class RawPostgresDb final : public RawDatabase {
 public:
  explicit RawPostgresDb(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) ADD_FAILURE() << "connect " << conninfo << ": " << PQerrorMessage(conn_);
  }
  ~RawPostgresDb() override { PQfinish(conn_); }

  std::optional<std::string> Get(const std::string& cf, const std::string& key) override {
    Rows rows = Run("SELECT v FROM " + Table(cf) + " WHERE " + Node(cf) + "k = $1", {key});
    if (rows.empty()) return std::nullopt;
    return rows[0][0];
  }
  void Put(const std::string& cf, const std::string& key, const std::string& value) override {
    if (cf == "audit") {
      Run("INSERT INTO audit (node, k, v) VALUES (1, $1, $2) ON CONFLICT (node, k) DO UPDATE SET v = EXCLUDED.v",
          {key, value});
    } else {
      Run("INSERT INTO " + Table(cf) + " (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
          {key, value});
    }
  }
  void Delete(const std::string& cf, const std::string& key) override {
    Run("DELETE FROM " + Table(cf) + " WHERE " + Node(cf) + "k = $1", {key});
  }
  std::vector<std::pair<std::string, std::string>> All(const std::string& cf) override {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto& row : Run("SELECT k, v FROM " + Table(cf) + " WHERE " + Node(cf) + "TRUE ORDER BY k", {})) {
      out.emplace_back(std::move(row[0]), std::move(row[1]));
    }
    return out;
  }

 private:
  using Rows = std::vector<std::vector<std::string>>;

  static std::string Table(const std::string& cf) {
    const auto& names = Store::ColumnFamilyNames();
    if (std::find(names.begin(), names.end(), cf) == names.end()) ADD_FAILURE() << "no column family " << cf;
    return cf;
  }
  static std::string Node(const std::string& cf) { return cf == "audit" ? "node = 1 AND " : ""; }

  Rows Run(const std::string& sql, const std::vector<std::string>& params) {
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats(params.size(), 1);
    for (const std::string& p : params) {
      values.push_back(p.data());
      lengths.push_back(static_cast<int>(p.size()));
    }
    PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                               lengths.data(), formats.data(), /*binary results=*/1);
    Rows rows;
    const ExecStatusType t = PQresultStatus(r);
    if (t == PGRES_TUPLES_OK) {
      rows = simkms::testing::PostgresRows(r);
    } else if (t != PGRES_COMMAND_OK) {
      ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r);
    }
    PQclear(r);
    return rows;
  }

  PGconn* conn_;
};

}  // namespace simkms::storage::testing
