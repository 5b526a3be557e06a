#include "storage/postgres_engine.h"

#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "storage/pending_writes.h"
#include "storage/postgres_connection.h"
#include "storage/postgres_schema.h"

namespace simkms::storage {

namespace {

// pg_try_advisory_lock key of node N's writer: "SKMS" in the high half, N low.
int64_t WriterLockKey(uint32_t node) { return static_cast<int64_t>((uint64_t{0x534B4D53} << 32) | node); }

// The statements of one engine (one node), per family; the audit family reads and
// writes only this node's rows (the node id is a number, inlined in the SQL).
enum class Op { kGet, kFirst, kGe, kGt, kLast, kLe, kLt, kUpsert, kDelete, kCount };

class Sql {
 public:
  Sql(uint32_t node, int page_rows) : node_(std::to_string(node)), page_(std::to_string(page_rows)) {}

  // Prepares (once per connection) and runs a family's statement.
  StatusOr<PgResult> Run(PgConnection& conn, Op op, Cf cf, const std::vector<std::string_view>& params) const {
    const std::string name = Name(op, cf);
    SIMKMS_RETURN_IF_ERROR(conn.Prepare(name, Text(op, cf), static_cast<int>(params.size())));
    return conn.ExecPrepared(name, params);
  }
  static std::string Name(Op op, Cf cf) { return AllCfNames()[cf] + "_" + std::to_string(static_cast<int>(op)); }
  std::string Text(Op op, Cf cf) const {
    const std::string& t = AllCfNames()[cf];
    const std::string where = "FROM " + t + " WHERE " + (cf == kAudit ? "node = " + node_ + " AND " : "");
    const std::string rows = "SELECT k, v " + where;
    switch (op) {
      case Op::kGet: return "SELECT v " + where + "k = $1";
      case Op::kFirst: return rows + "TRUE ORDER BY k LIMIT " + page_;
      case Op::kGe: return rows + "k >= $1 ORDER BY k LIMIT " + page_;
      case Op::kGt: return rows + "k > $1 ORDER BY k LIMIT " + page_;
      case Op::kLast: return rows + "TRUE ORDER BY k DESC LIMIT " + page_;
      case Op::kLe: return rows + "k <= $1 ORDER BY k DESC LIMIT " + page_;
      case Op::kLt: return rows + "k < $1 ORDER BY k DESC LIMIT " + page_;
      case Op::kUpsert:
        // An audit record is written once and never changed: a plain INSERT, so that
        // the runtime role needs no UPDATE on audit (migration 2 revokes it) and a
        // second write of one seq fails instead of replacing the record.
        if (cf == kAudit) return "INSERT INTO audit (node, k, v) VALUES (" + node_ + ", $1, $2)";
        return "INSERT INTO " + t + " (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v";
      case Op::kDelete: return "DELETE " + where + "k = $1";
      case Op::kCount: return "SELECT count(*) " + where + "TRUE";
    }
    return "";
  }
  // The node's commit marker: the id of its newest committed writer transaction.
  std::string MarkerUpdate() const { return "UPDATE nodes SET last_txn = $1 WHERE node = " + node_; }
  std::string MarkerRead() const { return "SELECT last_txn FROM nodes WHERE node = " + node_; }

 private:
  std::string node_;
  std::string page_;
};

// A family's rows in pages of `page_rows`, on one connection inside its transaction
// (a snapshot's or the writer's). A failed read is also noted in *first_error (the
// writer's transaction: its Commit must not pretend it read everything).
class PgIterator final : public KvIterator {
 public:
  PgIterator(PgConnection* conn, const Sql* sql, Cf cf, std::size_t page_rows, Status* first_error)
      : conn_(conn), sql_(sql), cf_(cf), page_rows_(page_rows), first_error_(first_error) {}

  bool Valid() const override { return status_.ok() && pos_ < rows_.size(); }
  void SeekToFirst() override { Load(Op::kFirst, "", true); }
  void SeekToLast() override { Load(Op::kLast, "", false); }
  void Seek(std::string_view key) override { Load(Op::kGe, key, true); }
  void SeekForPrev(std::string_view key) override { Load(Op::kLe, key, false); }
  void Next() override { Step(true); }
  void Prev() override { Step(false); }
  std::string_view key() const override { return rows_[pos_].first; }
  std::string_view value() const override { return rows_[pos_].second; }
  Status status() const override { return status_; }

 private:
  void Step(bool forward) {
    if (!Valid()) return;
    const std::string from = rows_[pos_].first;
    if (forward == forward_) {
      ++pos_;
      if (pos_ < rows_.size() || rows_.size() < page_rows_) return;  // within the page, or the last page
    }
    Load(forward ? Op::kGt : Op::kLt, from, forward);
  }
  void Load(Op op, std::string_view key, bool forward) {
    rows_.clear();
    pos_ = 0;
    forward_ = forward;
    if (!status_.ok()) return;
    std::vector<std::string_view> params;
    if (op != Op::kFirst && op != Op::kLast) params.push_back(key);
    auto r = sql_->Run(*conn_, op, cf_, params);
    if (!r.ok()) {
      status_ = r.status();
      if (first_error_ != nullptr && first_error_->ok()) *first_error_ = status_;
      return;
    }
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      rows_.emplace_back(PgBytes(r->get(), i, 0), PgBytes(r->get(), i, 1));
    }
  }

  PgConnection* conn_;
  const Sql* sql_;
  Cf cf_;
  std::size_t page_rows_;
  Status* first_error_;
  Status status_;
  std::vector<std::pair<std::string, std::string>> rows_;  // in the direction of travel
  std::size_t pos_ = 0;
  bool forward_ = true;
};

StatusOr<std::optional<std::string>> PointRead(PgConnection& conn, const Sql& sql, Cf cf, std::string_view key) {
  SIMKMS_ASSIGN_OR_RETURN(PgResult r, sql.Run(conn, Op::kGet, cf, {key}));
  if (PQntuples(r.get()) == 0) return std::optional<std::string>();
  return std::optional<std::string>(std::string(PgBytes(r.get(), 0, 0)));
}

class PostgresEngine;

// A read connection of the pool, given back when the lease ends (dropped if broken
// or not idle).
class Lease {
 public:
  Lease(PostgresEngine* engine, std::unique_ptr<PgConnection> conn) : engine_(engine), conn_(std::move(conn)) {}
  Lease(Lease&& other) noexcept = default;
  Lease& operator=(Lease&&) = delete;
  ~Lease();
  PgConnection& operator*() { return *conn_; }
  PgConnection* operator->() { return conn_.get(); }
  PgConnection* get() { return conn_.get(); }

 private:
  PostgresEngine* engine_;
  std::unique_ptr<PgConnection> conn_;
};

class PostgresEngine final : public KvEngine {
 public:
  PostgresEngine(std::string conninfo, const PostgresEngineOptions& options)
      : conninfo_(std::move(conninfo)),
        options_(options),
        describe_(DescribeConnInfo(conninfo_) + " node=" + std::to_string(options.node)),
        sql_(options.node, options.page_rows),
        rng_(std::random_device{}()) {}

  Status Open() {
    {
      SIMKMS_ASSIGN_OR_RETURN(Lease conn, Acquire());
      SIMKMS_RETURN_IF_ERROR(CheckPostgresSchema(*conn).WithContext(describe_));
    }
    if (options_.read_only) return OkStatus();
    std::lock_guard<std::mutex> l(writer_mu_);
    return ConnectWriter(/*at_open=*/true);
  }

  std::string Describe() const override { return describe_; }

  StatusOr<std::optional<std::string>> Get(Cf cf, std::string_view key) override {
    std::optional<std::string> out;
    SIMKMS_RETURN_IF_ERROR(WithReadConnection([&](PgConnection& c) -> Status {
      SIMKMS_ASSIGN_OR_RETURN(out, PointRead(c, sql_, cf, key));
      return OkStatus();
    }));
    return out;
  }

  StatusOr<std::unique_ptr<KvView>> Snapshot() override;
  StatusOr<std::unique_ptr<KvTransaction>> BeginTransaction() override;

  Status Purge(const std::map<Cf, std::pair<std::string, std::string>>& ranges) override {
    if (options_.read_only) return FailedPreconditionError(describe_ + " is open read-only: no purge");
    // VACUUM runs outside a transaction: a pool connection is idle (autocommit).
    for (const auto& [cf, range] : ranges) {
      SIMKMS_RETURN_IF_ERROR(
          WithReadConnection([&](PgConnection& c) { return c.Execute("VACUUM " + AllCfNames()[cf]); }));
    }
    return OkStatus();
  }

  StatusOr<uint64_t> CountKeys(Cf cf) override {
    uint64_t n = 0;
    SIMKMS_RETURN_IF_ERROR(WithReadConnection([&](PgConnection& c) -> Status {
      SIMKMS_ASSIGN_OR_RETURN(PgResult r, sql_.Run(c, Op::kCount, cf, {}));
      n = static_cast<uint64_t>(PgInt8(r.get(), 0, 0));
      return OkStatus();
    }));
    return n;
  }

  // The pool.
  StatusOr<Lease> Acquire() {
    std::unique_lock<std::mutex> l(pool_mu_);
    const bool free = pool_cv_.wait_for(l, std::chrono::seconds(options_.connect_timeout_s), [&] {
      return !idle_.empty() || open_ < options_.read_connections;
    });
    if (!free) {
      return ResourceExhaustedError(describe_ + ": all " + std::to_string(options_.read_connections) +
                                    " read connections are in use");
    }
    if (!idle_.empty()) {
      std::unique_ptr<PgConnection> c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c));
    }
    ++open_;
    l.unlock();
    auto c = Connect("read");
    if (!c.ok()) {
      Release(nullptr);
      return c.status();
    }
    return Lease(this, std::move(c).value());
  }
  void Release(std::unique_ptr<PgConnection> conn) {
    std::lock_guard<std::mutex> l(pool_mu_);
    if (conn != nullptr && conn->ok() && PQtransactionStatus(conn->raw()) == PQTRANS_IDLE) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;
    }
    pool_cv_.notify_one();
  }

 private:
  friend class PgTransaction;

  StatusOr<std::unique_ptr<PgConnection>> Connect(const std::string& role) {
    return PgConnection::Connect(conninfo_, options_.connect_timeout_s,
                                 "simkms-node-" + std::to_string(options_.node) + "-" + role);
  }

  // Runs `read` on a pool connection; once more on a fresh connection if the
  // connection was lost (a restart or a failover since it was opened).
  template <typename F>
  Status WithReadConnection(F&& read) {
    Status s;
    for (int attempt = 0; attempt < 2; ++attempt) {
      SIMKMS_ASSIGN_OR_RETURN(Lease conn, Acquire());
      s = read(*conn);
      if (s.ok() || conn->ok()) return s.WithContext(describe_);
    }
    return s.WithContext(describe_);
  }

  // Connects the writer and takes the node's lock (writer_mu_ held). At open another
  // holder is a second writer for the node (FailedPrecondition); after a lost
  // connection it may be our previous session, not yet ended (Unavailable).
  Status ConnectWriter(bool at_open) {
    writer_.reset();
    SIMKMS_ASSIGN_OR_RETURN(auto c, Connect("writer"));
    const std::string node = std::to_string(options_.node);
    SIMKMS_ASSIGN_OR_RETURN(PgResult locked,
                            c->Query("SELECT pg_try_advisory_lock(" + std::to_string(WriterLockKey(options_.node)) + ")"));
    if (!PgBool(locked.get(), 0, 0)) {
      const std::string m = describe_ + ": node " + node + " already has a writer (another kmsd opened node " + node +
                            " read-write";
      if (at_open) return FailedPreconditionError(m + "; every node needs its own node id)");
      return UnavailableError(m + ", or this node's previous session has not ended yet)");
    }
    if (at_open) {
      // The node's marker row, once per node: a write only when it is missing (a
      // write would wait for the synchronous standby).
      SIMKMS_ASSIGN_OR_RETURN(PgResult marker, c->Query(sql_.MarkerRead()));
      if (PQntuples(marker.get()) == 0) {
        SIMKMS_RETURN_IF_ERROR(
            c->Execute("INSERT INTO nodes (node, last_txn) VALUES (" + node + ", 0) ON CONFLICT (node) DO NOTHING"));
      }
    }
    writer_ = std::move(c);
    return OkStatus();
  }

  // After the writer's connection was lost during Commit: reconnects (within the
  // outcome timeout), takes the node's lock again, so that the old session has ended
  // and its transaction is decided, and reads the node's commit marker.
  Status ResolveLostCommit(int64_t txn_id, const Status& lost) {
    const auto deadline = std::chrono::steady_clock::now() + options_.outcome_timeout;
    Status last = lost;
    for (;;) {
      last = ConnectWriter(/*at_open=*/false);
      if (last.ok()) {
        auto marker = writer_->Query(sql_.MarkerRead());
        if (marker.ok() && PQntuples(marker->get()) == 1) {
          if (PgInt8(marker->get(), 0, 0) == txn_id) return OkStatus();
          return AbortedError(describe_ + ": the connection was lost during the commit (" + lost.message() +
                              "); the node's commit marker shows it was not committed");
        }
        last = marker.ok() ? InternalError("no commit marker for the node") : marker.status();
        writer_.reset();
      }
      if (std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return InternalError(describe_ + ": the outcome of a commit is unknown: the connection was lost during it (" +
                         lost.message() + ") and the node's commit marker could not be read within " +
                         std::to_string(options_.outcome_timeout.count()) + " ms (" + last.message() + ")");
  }

  const std::string conninfo_;
  const PostgresEngineOptions options_;
  const std::string describe_;
  const Sql sql_;

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<PgConnection>> idle_;
  int open_ = 0;  // idle and leased

  std::mutex writer_mu_;
  std::unique_ptr<PgConnection> writer_;  // holds the node's advisory lock
  bool transaction_open_ = false;
  std::mt19937_64 rng_;
};

Lease::~Lease() {
  if (engine_ != nullptr && conn_ != nullptr) engine_->Release(std::move(conn_));
}

// A snapshot: a REPEATABLE READ READ ONLY transaction on a leased read connection.
class PgView final : public KvView {
 public:
  PgView(Lease conn, const Sql* sql, std::size_t page_rows)
      : conn_(std::move(conn)), sql_(sql), page_rows_(page_rows) {}
  ~PgView() override {
    if (conn_->ok()) conn_->Execute("ROLLBACK").IgnoreError();
  }
  StatusOr<std::optional<std::string>> Get(Cf cf, std::string_view key) override {
    return PointRead(*conn_, *sql_, cf, key);
  }
  std::unique_ptr<KvIterator> NewIterator(Cf cf) override {
    return std::make_unique<PgIterator>(conn_.get(), sql_, cf, page_rows_, nullptr);
  }

 private:
  Lease conn_;
  const Sql* sql_;
  std::size_t page_rows_;
};

StatusOr<std::unique_ptr<KvView>> PostgresEngine::Snapshot() {
  Status s;
  for (int attempt = 0; attempt < 2; ++attempt) {
    SIMKMS_ASSIGN_OR_RETURN(Lease conn, Acquire());
    s = conn->Execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (s.ok()) return std::unique_ptr<KvView>(new PgView(std::move(conn), &sql_, options_.page_rows));
    if (conn->ok()) break;
  }
  return s.WithContext(describe_);
}

// The writer's SERIALIZABLE transaction: reads on the writer connection, writes in
// PendingWrites until Commit sends them, with the node's commit marker and COMMIT,
// in one pipeline.
class PgTransaction final : public KvTransaction {
 public:
  explicit PgTransaction(PostgresEngine* engine) : e_(engine) {}
  ~PgTransaction() override {
    if (!done_ && e_->writer_ != nullptr && e_->writer_->ok()) e_->writer_->Execute("ROLLBACK").IgnoreError();
    std::lock_guard<std::mutex> l(e_->writer_mu_);
    e_->transaction_open_ = false;
  }

  StatusOr<std::optional<std::string>> Get(Cf cf, std::string_view key) override {
    if (const std::optional<std::string>* w = writes_.Find(cf, key)) return *w;
    if (!first_error_.ok()) return first_error_;
    auto r = PointRead(*e_->writer_, e_->sql_, cf, key);
    if (!r.ok() && first_error_.ok()) first_error_ = r.status();
    return r;
  }
  std::unique_ptr<KvIterator> NewIterator(Cf cf) override {
    return writes_.NewMergingIterator(
        cf, std::make_unique<PgIterator>(e_->writer_.get(), &e_->sql_, cf, e_->options_.page_rows, &first_error_));
  }
  void Put(Cf cf, std::string_view key, std::string_view value) override { writes_.Put(cf, key, value); }
  void Delete(Cf cf, std::string_view key) override { writes_.Delete(cf, key); }
  void SetSavePoint() override { writes_.SetSavePoint(); }
  void RollbackToSavePoint() override { writes_.RollbackToSavePoint(); }
  void PopSavePoint() override { writes_.PopSavePoint(); }
  std::size_t DataSize() const override { return writes_.DataSize(); }

  Status Commit() override {
    if (done_) return FailedPreconditionError(e_->describe_ + ": the transaction was committed already");
    done_ = true;
    PgConnection& conn = *e_->writer_;
    if (!first_error_.ok()) {
      // A read failed: the server has aborted the transaction; nothing is written.
      if (conn.ok()) conn.Execute("ROLLBACK").IgnoreError();
      if (first_error_.code() == StatusCode::kUnavailable) return Unavailable(first_error_);
      return first_error_.WithContext(e_->describe_ + ": not committed");
    }
    int64_t txn_id = 0;
    while (txn_id == 0) txn_id = static_cast<int64_t>(e_->rng_());
    Status s = Send(conn, txn_id);
    if (s.code() == StatusCode::kUnavailable && !conn.ok()) return e_->ResolveLostCommit(txn_id, s);
    if (!s.ok() && conn.ok()) conn.Execute("ROLLBACK").IgnoreError();
    return s.WithContext(e_->describe_);
  }

 private:
  Status Unavailable(const Status& s) {
    // The connection broke before anything was sent: the server rolls it back.
    return UnavailableError(e_->describe_ + ": not committed: " + s.message());
  }

  // Every write, the marker and COMMIT in one pipeline (one round trip). OK only if
  // COMMIT succeeded.
  Status Send(PgConnection& conn, int64_t txn_id) {
    const Sql& sql = e_->sql_;
    for (std::size_t cf = 0; cf < kNumCfs; ++cf) {
      if (writes_.family(static_cast<Cf>(cf)).empty()) continue;
      for (Op op : {Op::kUpsert, Op::kDelete}) {
        SIMKMS_RETURN_IF_ERROR(conn.Prepare(Sql::Name(op, static_cast<Cf>(cf)), sql.Text(op, static_cast<Cf>(cf)),
                                            op == Op::kUpsert ? 2 : 1));
      }
    }
    SIMKMS_RETURN_IF_ERROR(conn.Prepare("marker", sql.MarkerUpdate(), 1));
    PGconn* c = conn.raw();
    if (PQenterPipelineMode(c) != 1) return PgResultStatus(nullptr, c, "enter pipeline mode");
    int sent = 0;
    bool send_ok = true;
    auto send = [&](const std::string& name, std::vector<std::string_view> params) {
      if (!send_ok) return;
      std::vector<const char*> values;
      std::vector<int> lengths;
      std::vector<int> formats(params.size(), 1);
      for (std::string_view p : params) {
        values.push_back(p.data() != nullptr ? p.data() : "");
        lengths.push_back(static_cast<int>(p.size()));
      }
      send_ok = PQsendQueryPrepared(c, name.c_str(), static_cast<int>(params.size()), values.data(), lengths.data(),
                                    formats.data(), 1) == 1;
      if (send_ok) ++sent;
    };
    for (std::size_t cf = 0; cf < kNumCfs; ++cf) {
      for (const auto& [key, value] : writes_.family(static_cast<Cf>(cf))) {
        if (value.has_value()) {
          send(Sql::Name(Op::kUpsert, static_cast<Cf>(cf)), {key, *value});
        } else {
          send(Sql::Name(Op::kDelete, static_cast<Cf>(cf)), {key});
        }
      }
    }
    const std::string id = PgInt8Param(txn_id);
    send("marker", {id});
    if (send_ok) {
      send_ok = PQsendQueryParams(c, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
      if (send_ok) ++sent;
    }
    if (!send_ok || PQpipelineSync(c) != 1) {
      PQexitPipelineMode(c);
      return PgResultStatus(nullptr, c, "send the commit");
    }
    Status first;
    bool committed = false;
    for (int i = 0; i < sent && conn.ok(); ++i) {
      PgResult r(PQgetResult(c));
      if (r == nullptr) break;
      const ExecStatusType t = PQresultStatus(r.get());
      const bool last = i + 1 == sent;
      if (t != PGRES_PIPELINE_ABORTED && first.ok()) first = PgResultStatus(r.get(), c, last ? "COMMIT" : "write");
      if (last && t == PGRES_COMMAND_OK) committed = std::string_view(PQcmdStatus(r.get())) == "COMMIT";
      while (PgResult rest{PQgetResult(c)}) {
        // Each statement's results end with a null result.
      }
    }
    // The pipeline's sync result, then out of pipeline mode.
    for (int i = 0; i < 4 && conn.ok() && PQexitPipelineMode(c) != 1; ++i) PQclear(PQgetResult(c));
    // A lost connection: Commit reads the marker to learn whether COMMIT happened.
    if (!conn.ok()) return first.code() == StatusCode::kUnavailable ? first : PgResultStatus(nullptr, c, "commit");
    if (!first.ok()) return first.WithContext("not committed");
    if (!committed) return AbortedError("COMMIT rolled the transaction back");
    return OkStatus();
  }

  PostgresEngine* e_;
  PendingWrites writes_;
  Status first_error_;
  bool done_ = false;
};

StatusOr<std::unique_ptr<KvTransaction>> PostgresEngine::BeginTransaction() {
  std::lock_guard<std::mutex> l(writer_mu_);
  if (options_.read_only) return FailedPreconditionError(describe_ + " is open read-only: no transaction");
  if (transaction_open_) return FailedPreconditionError(describe_ + ": a transaction is open already");
  Status s;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (writer_ == nullptr || !writer_->ok()) {
      s = ConnectWriter(/*at_open=*/false);
      if (!s.ok()) return s;
    }
    s = writer_->Execute("BEGIN ISOLATION LEVEL SERIALIZABLE");
    if (s.ok()) {
      transaction_open_ = true;
      return std::unique_ptr<KvTransaction>(new PgTransaction(this));
    }
    if (writer_->ok()) break;
  }
  return s.WithContext(describe_);
}

}  // namespace

bool IsPostgresLocation(const std::string& location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

StatusOr<std::vector<uint32_t>> ListPostgresNodes(const std::string& conninfo) {
  SIMKMS_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(conninfo, 10, "kmsctl"));
  const std::string where = DescribeConnInfo(conninfo);
  SIMKMS_RETURN_IF_ERROR(CheckPostgresSchema(*conn).WithContext(where));
  SIMKMS_ASSIGN_OR_RETURN(PgResult r,
                          conn->Query("SELECT node FROM nodes UNION SELECT DISTINCT node FROM audit ORDER BY 1"));
  std::vector<uint32_t> nodes;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    const int64_t node = PgInt8(r.get(), i, 0);
    if (node < 1 || node > UINT32_MAX) return DataLossError(where + ": node id " + std::to_string(node) + " out of range");
    nodes.push_back(static_cast<uint32_t>(node));
  }
  return nodes;
}

StatusOr<std::unique_ptr<KvEngine>> OpenPostgresEngine(const std::string& conninfo,
                                                       const PostgresEngineOptions& options) {
  if (options.node < 1) return InvalidArgumentError("PostgreSQL engine: the node id must be >= 1");
  if (options.read_connections < 1 || options.page_rows < 1 || options.connect_timeout_s < 1) {
    return InvalidArgumentError("PostgreSQL engine: read_connections, page_rows and connect_timeout_s must be >= 1");
  }
  auto engine = std::make_unique<PostgresEngine>(conninfo, options);
  SIMKMS_RETURN_IF_ERROR(engine->Open());
  return std::unique_ptr<KvEngine>(std::move(engine));
}

}  // namespace simkms::storage
