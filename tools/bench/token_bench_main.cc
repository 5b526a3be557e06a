// token-bench: the raw in-token limits a benchmark of kmsd is compared with, on
// the same token and thread count (docs/performance.md, issue 5):
//  - DH/ECDH ephemeral key pair + derive per second for ffdhe2048, ffdhe3072 and
//    P-256, through the SC's own token calls (sc-engine/engine/token_key_agreement.h),
//    and raw OpenSSL (the chip's software path) beside them;
//  - Milenage vectors per second in the token (kms/auc_vectors.h, the batch path)
//    and in software;
//  - Ki_2 unwraps per second: bare C_UnwrapKey and kms::Ki2Vault::Unwrap (with its KCV check).
// Every operation runs `--threads` threads, each on its own logged-in session,
// for `--seconds`; objects it creates are session objects (gone at exit).
//
//   token-bench [--threads 2] [--seconds 3] [--only NAME ...] [--json]
// Token from SIMKMS_MODULE / SIMKMS_TOKEN / SIMKMS_PIN_FILE or the options.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "kms/aes_kwp.h"
#include "kms/auc_vectors.h"
#include "kms/ki2_vault.h"
#include "kms/kcv.h"
#include "softcrypto/milenage.h"
#include "softcrypto/software_aes.h"
#include "sc-engine/engine/token_key_agreement.h"
#include "sc-engine/protocol/software_session.h"
#include "tools/bench/latency.h"
#include "tools/bench/token_login.h"

namespace {

using namespace simkms;
using Clock = std::chrono::steady_clock;

// One thread's state for one operation; Once() does the operation and returns
// how many units (pairs, vectors, keys) it produced.
class Worker {
 public:
  virtual ~Worker() = default;
  virtual StatusOr<int> Once() = 0;
};
template <typename W, typename... Args>
StatusOr<std::unique_ptr<Worker>> Make(Args&&... args) {
  return std::unique_ptr<Worker>(new W(std::forward<Args>(args)...));
}
using WorkerFactory = std::function<StatusOr<std::unique_ptr<Worker>>(p11::Session&)>;

struct Benchmark {
  std::string name;
  std::string unit;
  std::string what;
  WorkerFactory make;
  bool one_thread = false;  // serialised in kmsd: measured on one thread
};

struct Result {
  std::string name, unit, what;
  uint64_t units = 0;
  double seconds = 0;
  bench::LatencySamples latency;  // of each operation (one Once of a worker), all threads
  double per_second() const { return seconds > 0 ? static_cast<double>(units) / seconds : 0; }
};

// ---- DH / ECDH --------------------------------------------------------------

protocol::DhGroup Group(kms::DhGroupKind kind) { return protocol::DhGroup::Named(kind).value(); }

// A peer value as a chip would send it (fresh software key pair, made once).
StatusOr<Bytes> PeerValue(const protocol::DhGroup& group) {
  SIMKMS_ASSIGN_OR_RETURN(protocol::EphemeralKey peer, protocol::EphemeralKey::Generate(group));
  return peer.public_value();
}

class TokenDhWorker : public Worker {
 public:
  TokenDhWorker(p11::Session& s, protocol::DhGroup g, Bytes peer) : s_(s), g_(std::move(g)), peer_(std::move(peer)) {}
  StatusOr<int> Once() override {
    SIMKMS_ASSIGN_OR_RETURN(sc::TokenEphemeral own, sc::GenerateEphemeral(s_, g_));
    SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject kz, sc::DeriveKz(s_, own, g_, peer_));
    return 1;
  }

 private:
  p11::Session& s_;
  protocol::DhGroup g_;
  Bytes peer_;
};

class SoftwareDhWorker : public Worker {
 public:
  SoftwareDhWorker(protocol::DhGroup g, Bytes peer) : g_(std::move(g)), peer_(std::move(peer)) {}
  StatusOr<int> Once() override {
    SIMKMS_ASSIGN_OR_RETURN(protocol::EphemeralKey own, protocol::EphemeralKey::Generate(g_));
    SIMKMS_ASSIGN_OR_RETURN(SecretBytes z, own.SharedSecret(peer_));
    return 1;
  }

 private:
  protocol::DhGroup g_;
  Bytes peer_;
};

void AddDh(std::vector<Benchmark>& out, kms::DhGroupKind kind) {
  std::string group(kms::DhGroupKindName(kind));
  out.push_back({"dh-" + group + "-token", "pairs/s", "token: key pair + derive K_z (SC's calls)",
                 [kind](p11::Session& s) -> StatusOr<std::unique_ptr<Worker>> {
                   protocol::DhGroup g = Group(kind);
                   SIMKMS_ASSIGN_OR_RETURN(Bytes peer, PeerValue(g));
                   return Make<TokenDhWorker>(s, g, std::move(peer));
                 }});
  out.push_back({"dh-" + group + "-openssl", "pairs/s", "OpenSSL: key pair + derive (range-checked peer)",
                 [kind](p11::Session&) -> StatusOr<std::unique_ptr<Worker>> {
                   protocol::DhGroup g = Group(kind);
                   SIMKMS_ASSIGN_OR_RETURN(Bytes peer, PeerValue(g));
                   return Make<SoftwareDhWorker>(g, std::move(peer));
                 }});
}

// ---- Milenage ---------------------------------------------------------------

p11::Attributes SessionAesKey(CK_ULONG bytes) {
  p11::Attributes a;
  a.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_AES)
      .Ulong(CKA_VALUE_LEN, bytes)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true);
  return a;
}

StatusOr<p11::ScopedObject> SubscriberKey(p11::Session& s) {
  p11::Attributes a = SessionAesKey(16);
  a.Bool(CKA_ENCRYPT, true).Bool(CKA_EXTRACTABLE, false);
  return s.GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, a, "bench subscriber key");
}

std::vector<std::pair<kms::Block, kms::Sqn>> Requests(int n) {
  std::vector<std::pair<kms::Block, kms::Sqn>> r;
  for (int i = 0; i < n; ++i) {
    kms::Block rand{};
    rand[0] = static_cast<uint8_t>(i);
    r.emplace_back(rand, kms::SqnFromUint64(32 * (i + 1)));
  }
  return r;
}

class TokenMilenageWorker : public Worker {
 public:
  TokenMilenageWorker(p11::Session& s, p11::ScopedObject key, int batch)
      : s_(s), key_(std::move(key)), requests_(Requests(batch)) {}
  StatusOr<int> Once() override {
    SIMKMS_ASSIGN_OR_RETURN(auto vectors, kms::GenerateVectorsInToken(s_, key_.get(), opc_, requests_, amf_));
    return static_cast<int>(vectors.size());
  }

 private:
  p11::Session& s_;
  p11::ScopedObject key_;
  std::vector<std::pair<kms::Block, kms::Sqn>> requests_;
  kms::Block opc_{};
  kms::Amf amf_{0x80, 0x00};
};

class SoftwareMilenageWorker : public Worker {
 public:
  explicit SoftwareMilenageWorker(std::unique_ptr<kms::SoftwareAes128> aes) : aes_(std::move(aes)) {}
  StatusOr<int> Once() override {
    SIMKMS_ASSIGN_OR_RETURN(kms::AuthVector v, kms::GenerateAuthVector(*aes_, opc_, rand_, sqn_, amf_));
    rand_[0] = v.xres[0];  // keep the compiler from hoisting the work
    return 1;
  }

 private:
  std::unique_ptr<kms::SoftwareAes128> aes_;
  kms::Block opc_{}, rand_{};
  kms::Sqn sqn_{0, 0, 0, 0, 0, 32};
  kms::Amf amf_{0x80, 0x00};
};

// ---- Ki_2 unwrap ------------------------------------------------------------

struct WrappedFixture {
  p11::ScopedObject kek;
  std::unique_ptr<kms::Ki2Vault> vault;
  kms::WrappedKi2 wrapped;
};

// A session KEK like the storage KEK (AES-256, wrap/unwrap) and one Ki_2 wrapped under it.
StatusOr<WrappedFixture> MakeWrapped(p11::Session& s) {
  WrappedFixture f;
  p11::Attributes kek = SessionAesKey(32);
  kek.Bool(CKA_WRAP, true).Bool(CKA_UNWRAP, true).Bool(CKA_EXTRACTABLE, false).Bool(CKA_SIGN, true);
  SIMKMS_ASSIGN_OR_RETURN(f.kek, s.GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, kek, "bench KEK"));
  SIMKMS_ASSIGN_OR_RETURN(Bytes kek_kcv, kms::TokenKcv(s, f.kek.get(), "bench KEK"));
  f.vault = std::make_unique<kms::Ki2Vault>(f.kek.get(), kek_kcv);
  p11::Attributes fresh = kms::FreshKi2Template();
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject ki2, s.GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, fresh, "bench Ki_2"));
  SIMKMS_ASSIGN_OR_RETURN(f.wrapped, f.vault->Wrap(s, ki2.get()));
  return f;
}

class RawUnwrapWorker : public Worker {
 public:
  RawUnwrapWorker(p11::Session& s, WrappedFixture f) : s_(s), f_(std::move(f)) {}
  StatusOr<int> Once() override {
    p11::Attributes t;
    t.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES).Bool(CKA_TOKEN, false).Bool(CKA_PRIVATE, true)
        .Bool(CKA_SENSITIVE, true).Bool(CKA_EXTRACTABLE, false).Bool(CKA_ENCRYPT, true);
    SIMKMS_ASSIGN_OR_RETURN(CK_MECHANISM_TYPE kwp, kms::AesKwpMechanism(s_));
    SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject k, s_.UnwrapKey({kwp, nullptr, 0}, f_.kek.get(),
                                                              f_.wrapped.blob, t, "bench Ki_2"));
    return 1;
  }

 private:
  p11::Session& s_;
  WrappedFixture f_;
};

class VaultUnwrapWorker : public Worker {
 public:
  VaultUnwrapWorker(p11::Session& s, WrappedFixture f) : s_(s), f_(std::move(f)) {}
  StatusOr<int> Once() override {
    SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject k, f_.vault->Unwrap(s_, f_.wrapped, "bench"));
    return 1;
  }

 private:
  p11::Session& s_;
  WrappedFixture f_;
};

// What one AuC request costs in the token with Ki_2 not cached: unwrap (with
// KCV), OPc, then `batch` vectors in one multi-part operation.
class AucRequestWorker : public Worker {
 public:
  AucRequestWorker(p11::Session& s, WrappedFixture f, int batch) : s_(s), f_(std::move(f)), requests_(Requests(batch)) {}
  StatusOr<int> Once() override {
    SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject k, f_.vault->Unwrap(s_, f_.wrapped, "bench"));
    SIMKMS_ASSIGN_OR_RETURN(SecretArray<16> opc, kms::ComputeOpcInToken(s_, k.get(), op_));
    SIMKMS_ASSIGN_OR_RETURN(auto vectors, kms::GenerateVectorsInToken(s_, k.get(), opc.reveal(), requests_, amf_));
    return static_cast<int>(vectors.size());
  }

 private:
  p11::Session& s_;
  WrappedFixture f_;
  std::vector<std::pair<kms::Block, kms::Sqn>> requests_;
  SecretBytes op_ = SecretBytes(16);
  kms::Amf amf_{0x80, 0x00};
};

// ---- Persistent token object rewrite ----------------------------------------

// What kms::TokenCheckpointStore::Write does after every audited commit (SoftHSM
// cannot change a data object's value): find the objects by label, create a new
// persistent CKO_DATA object, destroy the older one. Under a bench label, never
// the real checkpoint's; the last object is destroyed at the end.
class ObjectRewriteWorker : public Worker {
 public:
  explicit ObjectRewriteWorker(p11::Session& s) : s_(s) {}
  ~ObjectRewriteWorker() override {
    p11::Attributes q = Query();
    if (auto objects = s_.FindAll(q); objects.ok()) {
      for (CK_OBJECT_HANDLE o : *objects) (void)s_.DestroyObject(o, "bench object");
    }
  }
  StatusOr<int> Once() override {
    p11::Attributes q = Query();
    SIMKMS_ASSIGN_OR_RETURN(auto older, s_.FindAll(q));
    p11::Attributes a;
    Bytes value(40, static_cast<uint8_t>(++n_));
    a.Ulong(CKA_CLASS, CKO_DATA).Text(CKA_LABEL, kLabel).Text(CKA_APPLICATION, "simkms-bench").Bool(CKA_TOKEN, true)
        .Bool(CKA_PRIVATE, true).Blob(CKA_VALUE, value);
    SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject created, s_.CreateObject(a, "bench object"));
    created.Release();
    for (CK_OBJECT_HANDLE o : older) SIMKMS_RETURN_IF_ERROR(s_.DestroyObject(o, "bench object"));
    return 1;
  }

 private:
  static constexpr char kLabel[] = "simkms-bench/object-rewrite";
  static p11::Attributes Query() {
    p11::Attributes q;
    q.Ulong(CKA_CLASS, CKO_DATA).Text(CKA_LABEL, kLabel);
    return q;
  }
  p11::Session& s_;
  unsigned n_ = 0;
};

std::vector<Benchmark> AllBenchmarks() {
  std::vector<Benchmark> b;
  AddDh(b, kms::DhGroupKind::kFfdhe2048);
  AddDh(b, kms::DhGroupKind::kFfdhe3072);
  AddDh(b, kms::DhGroupKind::kP256);
  for (int batch : {1, 5}) {
    b.push_back({"milenage-token-x" + std::to_string(batch), "vectors/s",
                 "token: " + std::to_string(batch) + " vector(s) per multi-part AES-ECB operation",
                 [batch](p11::Session& s) -> StatusOr<std::unique_ptr<Worker>> {
                   SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject key, SubscriberKey(s));
                   return Make<TokenMilenageWorker>(s, std::move(key), batch);
                 }});
  }
  b.push_back({"milenage-openssl", "vectors/s", "OpenSSL: one vector, AES-128 key schedule cached",
               [](p11::Session&) -> StatusOr<std::unique_ptr<Worker>> {
                 SIMKMS_ASSIGN_OR_RETURN(auto aes, kms::SoftwareAes128::Create(SecretBytes(16)));
                 return Make<SoftwareMilenageWorker>(std::move(aes));
               }});
  b.push_back({"unwrap-token-raw", "keys/s", "token: C_UnwrapKey AES-KWP + destroy",
               [](p11::Session& s) -> StatusOr<std::unique_ptr<Worker>> {
                 SIMKMS_ASSIGN_OR_RETURN(WrappedFixture f, MakeWrapped(s));
                 return Make<RawUnwrapWorker>(s, std::move(f));
               }});
  b.push_back({"unwrap-token-ki2vault", "keys/s", "token: Ki2Vault::Unwrap (unwrap + KCV check) + destroy",
               [](p11::Session& s) -> StatusOr<std::unique_ptr<Worker>> {
                 SIMKMS_ASSIGN_OR_RETURN(WrappedFixture f, MakeWrapped(s));
                 return Make<VaultUnwrapWorker>(s, std::move(f));
               }});
  for (int batch : {1, 5}) {
    b.push_back({"auc-request-token-x" + std::to_string(batch), "vectors/s",
                 "token: Ki_2 unwrap + KCV + OPc + " + std::to_string(batch) + " vector(s), no cache",
                 [batch](p11::Session& s) -> StatusOr<std::unique_ptr<Worker>> {
                   SIMKMS_ASSIGN_OR_RETURN(WrappedFixture f, MakeWrapped(s));
                   return Make<AucRequestWorker>(s, std::move(f), batch);
                 }});
  }
  b.push_back({"token-object-rewrite", "objects/s",
               "token, 1 thread: find + create persistent data object + destroy the older (audit checkpoint write)",
               [](p11::Session& s) -> StatusOr<std::unique_ptr<Worker>> { return Make<ObjectRewriteWorker>(s); },
               true});
  return b;
}

StatusOr<Result> Run(const Benchmark& b, p11::SessionPool& pool, unsigned threads, double seconds) {
  if (b.one_thread) threads = 1;
  std::vector<p11::SessionPool::Lease> leases;
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < threads; ++i) {
    leases.push_back(pool.Acquire());
    auto w = b.make(*leases.back());
    if (!w.ok()) return w.status().WithContext(b.name + " set-up");
    workers.push_back(std::move(w).value());
  }
  std::atomic<bool> go{false}, stop{false};
  std::vector<uint64_t> units(threads, 0);
  std::vector<bench::LatencySamples> latency(threads);
  std::vector<Status> errors(threads);
  std::vector<std::thread> pool_threads;
  for (unsigned i = 0; i < threads; ++i) {
    pool_threads.emplace_back([&, i] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      while (!stop.load(std::memory_order_relaxed)) {
        const auto t0 = Clock::now();
        auto n = workers[i]->Once();
        if (!n.ok()) {
          errors[i] = n.status();
          return;
        }
        latency[i].Add(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        units[i] += static_cast<uint64_t>(*n);
      }
    });
  }
  auto start = Clock::now();
  go.store(true, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (auto& t : pool_threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  for (const Status& e : errors) {
    if (!e.ok()) return e.WithContext(b.name);
  }
  Result r{b.name, b.unit, b.what, 0, elapsed, {}};
  for (uint64_t u : units) r.units += u;
  for (const auto& l : latency) r.latency.Merge(l);
  workers.clear();  // objects destroyed while their sessions are still leased
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"token-bench: raw in-token limits (DH pairs, Milenage vectors, Ki_2 unwraps) beside raw OpenSSL"};
  bench::TokenOptions token = bench::TokenOptionsFromEnv();
  unsigned threads = 2;
  double seconds = 3;
  std::vector<std::string> only;
  bool json = false, list = false;
  app.add_option("--module", token.module, "PKCS#11 module")->capture_default_str();
  app.add_option("--token", token.uri, "token URI")->capture_default_str();
  app.add_option("--pin-file", token.pin_file, "user PIN file (SIMKMS_PIN_FILE)");
  app.add_option("--threads", threads, "threads, each with its own session")->check(CLI::Range(1u, 64u))
      ->capture_default_str();
  app.add_option("--seconds", seconds, "duration of each measurement")->check(CLI::Range(0.1, 600.0))
      ->capture_default_str();
  app.add_option("--only", only, "run only these benchmarks (see --list)");
  app.add_flag("--list", list, "list the benchmarks and exit");
  app.add_flag("--json", json, "JSON output");
  CLI11_PARSE(app, argc, argv);

  std::vector<Benchmark> all = AllBenchmarks();
  if (list) {
    for (const auto& b : all) std::printf("%-28s %s\n", b.name.c_str(), b.what.c_str());
    return 0;
  }
  for (const auto& name : only) {
    bool known = false;
    for (const auto& b : all) known = known || b.name == name;
    if (!known) {
      std::cerr << "token-bench: unknown benchmark " << name << " (see --list)\n";
      return 2;
    }
  }
  std::vector<Result> results;
  {
    auto opened = bench::OpenTokenSessions(token, threads);
    if (!opened.ok()) {
      std::cerr << "token-bench: " << opened.status().ToString() << "\n";
      return 1;
    }
    for (const auto& b : all) {
      if (!only.empty() && std::find(only.begin(), only.end(), b.name) == only.end()) continue;
      auto r = Run(b, *opened->pool, threads, seconds);
      if (!r.ok()) {
        std::cerr << "token-bench: " << r.status().ToString() << "\n";
        return 1;
      }
      if (json) std::fprintf(stderr, "%-28s %12.0f %s\n", r->name.c_str(), r->per_second(), r->unit.c_str());
      results.push_back(std::move(r).value());
    }
    opened->pool.reset();  // log out and close before C_Finalize
  }
  if (json) {
    nlohmann::json out{{"threads", threads}, {"seconds", seconds}, {"token", token.uri}, {"results", nlohmann::json::array()}};
    for (auto& r : results) {
      out["results"].push_back({{"name", r.name}, {"unit", r.unit}, {"what", r.what}, {"units", r.units},
                                {"seconds", r.seconds}, {"per_second", r.per_second()},
                                {"latency_ms", r.latency.Summary()}});
    }
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf("%-28s %12s  %-10s %s\n", "benchmark", "rate", "unit", "what");
    for (const auto& r : results) {
      std::printf("%-28s %12.0f  %-10s %s\n", r.name.c_str(), r.per_second(), r.unit.c_str(), r.what.c_str());
    }
    std::printf("(%u threads, %.1f s each)\n", threads, seconds);
  }
  return 0;
}
