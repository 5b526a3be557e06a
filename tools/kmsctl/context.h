// What every kmsctl command needs: the PKCS#11 module, the runtime token (selected
// by URI, logged in with a PIN from a file or the environment), the service keys
// and, for most commands, the RocksDB store with the token-backed audit trail.
// The ceremonies (init, restore, VER add, K1 export) also open the ceremony
// token, MK's, with its own PIN (kms/ceremony_token.h).
//
// Members are destroyed in reverse order of declaration: store, audit adapters,
// session, module (C_Finalize) — all before main() returns.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "kms/ceremony_token.h"
#include "kms/registry.h"
#include "kms/token_audit.h"
#include "kms/token_record_mac.h"
#include "kms/token_keys.h"
#include "pkcs11/module.h"
#include "pkcs11/pin.h"
#include "pkcs11/session.h"
#include "storage/store.h"

namespace simkms::kmsctl {

struct GlobalOptions {
  std::string module = "/usr/lib/softhsm/libsofthsm2.so";
  std::string module_init_args;  // p11::ModuleOptions::init_args (NSS softoken: its configdir)
  std::string token = "pkcs11:token=simkms";
  std::string pin_file;
  std::string pin_env;
  // The ceremony token: same module, another slot, its own PIN.
  std::string ceremony_token = "pkcs11:token=simkms-ceremony";
  std::string ceremony_pin_file;
  std::string ceremony_pin_env;
  std::string db;
  uint32_t node = 1;  // the cluster node this kmsctl acts for (its audit chain; PostgreSQL only)
  std::string actor;
  std::string admin_socket;  // when set, commands go to a running kmsd (online)
  bool json = false;
};

class Context {
 public:
  // Loads the module, finds the token, logs in as the user.
  static StatusOr<std::unique_ptr<Context>> Open(const GlobalOptions& options);
  ~Context();

  // Loads the service keys; NotFound on a token without a ceremony.
  Status LoadKeys();
  // Logs in to the ceremony token (options.ceremony_token, its own PIN). With
  // `find_mk`, also finds MK there (NotFound before an init ceremony).
  Status OpenCeremonyToken(bool find_mk = true);
  // Opens (creating if needed) the store at options.db with the token audit key.
  // With `mac`, the store uses it instead of the token's audit key (e.g. a links-only
  // check of a restored chain whose keys are gone); such a store is for the audit chain
  // only and opens without the token's record MAC key.
  Status OpenStore(bool read_only = false, storage::AuditMac* mac = nullptr);
  // For `kmsctl records seal` only, before OpenStore: records without a MAC are read
  // (those with one are still checked).
  void AcceptUnsealedRecords() { accept_unsealed_records_ = true; }
  kms::Registry MakeRegistry();

  const GlobalOptions& options() const { return options_; }
  p11::Session& session() { return *session_; }
  const std::shared_ptr<p11::Module>& module() const { return module_; }
  CK_SLOT_ID slot() const { return slot_; }
  const std::string& token_label() const { return token_label_; }
  const kms::ServiceKeys& keys() const { return keys_; }
  p11::Session& ceremony_session() { return *ceremony_session_; }
  const std::string& ceremony_label() const { return ceremony_label_; }
  kms::CeremonyToken& ceremony() { return *ceremony_; }
  storage::Store& store() { return *store_; }
  kms::TokenAuditMac& audit_mac() { return *audit_mac_; }
  kms::TokenCheckpointStore& checkpoints() { return *checkpoints_; }
  kms::Actor actor() const { return {"custodian", options_.actor}; }
  // Closes the store (e.g. to reopen it read-write after a read-only check).
  void CloseStore() { store_.reset(); }

 private:
  explicit Context(GlobalOptions options) : options_(std::move(options)) {}

  GlobalOptions options_;
  std::shared_ptr<p11::Module> module_;
  CK_SLOT_ID slot_ = 0;
  std::string token_label_;
  std::unique_ptr<p11::Session> session_;
  std::string ceremony_label_;
  std::unique_ptr<p11::Session> ceremony_session_;
  std::unique_ptr<kms::CeremonyToken> ceremony_;
  kms::ServiceKeys keys_;
  std::unique_ptr<kms::TokenAuditMac> audit_mac_;
  std::unique_ptr<kms::TokenCheckpointStore> checkpoints_;
  std::unique_ptr<kms::TokenRecordMac> record_mac_;
  bool accept_unsealed_records_ = false;
  std::unique_ptr<storage::Store> store_;
};

// Initialises a token in the module's first free slot: label, SO PIN (from
// so_pin_file), user PIN (from `user_pin`).
Status InitToken(const GlobalOptions& g, const std::string& label, const std::string& so_pin_file,
                 const p11::PinSource& user_pin);

// Writes a new file readable by the owner only; refuses to overwrite.
Status WritePrivateFile(const std::string& path, const std::string& content);
StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace simkms::kmsctl
