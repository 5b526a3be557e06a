#include "tools/kmsctl/context.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "pkcs11/pin.h"
#include "pkcs11/uri.h"

namespace simkms::kmsctl {

StatusOr<std::unique_ptr<Context>> Context::Open(const GlobalOptions& options) {
  std::unique_ptr<Context> c(new Context(options));
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes pin, p11::ReadPin({options.pin_file, options.pin_env}));
  SIMKMS_ASSIGN_OR_RETURN(c->module_, p11::Module::Load(options.module, {.init_args = options.module_init_args}));
  SIMKMS_ASSIGN_OR_RETURN(p11::TokenUri uri, p11::TokenUri::Parse(options.token));
  SIMKMS_ASSIGN_OR_RETURN(p11::SlotToken token, c->module_->FindToken(uri));
  c->slot_ = token.slot;
  c->token_label_ = token.label;
  SIMKMS_ASSIGN_OR_RETURN(p11::Session session, p11::Session::Open(c->module_, token.slot));
  c->session_ = std::make_unique<p11::Session>(std::move(session));
  Status login = c->session_->Login(CKU_USER, pin);
  if (!login.ok()) return login.WithContext("log in to token '" + token.label + "'");
  return c;
}

Context::~Context() {
  // Explicit order: the store uses the audit adapters, which use sessions of the module.
  store_.reset();
  record_mac_.reset();
  checkpoints_.reset();
  audit_mac_.reset();
  ceremony_.reset();
  ceremony_session_.reset();
  session_.reset();
  module_.reset();
}

Status Context::LoadKeys() {
  SIMKMS_ASSIGN_OR_RETURN(keys_, kms::LoadServiceKeys(*session_));
  return OkStatus();
}

Status Context::OpenCeremonyToken(bool find_mk) {
  if (!ceremony_session_) {
    const std::string& uri_text = options_.ceremony_token;
    SIMKMS_ASSIGN_OR_RETURN(p11::TokenUri uri, p11::TokenUri::Parse(uri_text));
    auto token = module_->FindToken(uri);
    if (!token.ok()) return token.status().WithContext("the ceremony token (--ceremony-token " + uri_text + ")");
    if (token->slot == slot_) {
      return InvalidArgumentError("the ceremony token " + uri_text + " is the runtime token: MK must not be on " +
                                  "the token kmsd uses");
    }
    SIMKMS_ASSIGN_OR_RETURN(SecretBytes pin, p11::ReadPin({options_.ceremony_pin_file, options_.ceremony_pin_env}));
    SIMKMS_ASSIGN_OR_RETURN(p11::Session session, p11::Session::Open(module_, token->slot));
    ceremony_session_ = std::make_unique<p11::Session>(std::move(session));
    ceremony_label_ = token->label;
    Status login = ceremony_session_->Login(CKU_USER, pin);
    if (!login.ok()) return login.WithContext("log in to the ceremony token '" + token->label + "'");
  }
  if (find_mk && !ceremony_) {
    SIMKMS_ASSIGN_OR_RETURN(kms::CeremonyToken ceremony, kms::CeremonyToken::Open(*ceremony_session_, *session_));
    ceremony_ = std::make_unique<kms::CeremonyToken>(std::move(ceremony));
  }
  return OkStatus();
}

Status Context::OpenStore(bool read_only, storage::AuditMac* mac) {
  if (options_.db.empty()) return InvalidArgumentError("no database directory: give --db or set SIMKMS_DB");
  if (!audit_mac_ && mac == nullptr) {
    SIMKMS_ASSIGN_OR_RETURN(audit_mac_, kms::TokenAuditMac::Open(module_, slot_));
  }
  if (!checkpoints_) {
    SIMKMS_ASSIGN_OR_RETURN(checkpoints_, kms::TokenCheckpointStore::Open(module_, slot_));
  }
  // With a caller's audit MAC only the audit chain is read (a restore checks the old
  // chain before the new token has its record key), so no record MAC key is opened;
  // nothing else may be read through such a store (its records would go unchecked).
  if (!record_mac_ && mac == nullptr) {
    SIMKMS_ASSIGN_OR_RETURN(record_mac_, kms::TokenRecordMac::Open(module_, slot_, 1));
  }
  storage::StoreOptions store_options;
  store_options.record_mac = mac == nullptr ? record_mac_.get() : nullptr;
  store_options.accept_unsealed_records = accept_unsealed_records_;
  store_options.read_only = read_only;
  store_options.create_if_missing = !read_only;
  store_options.node = options_.node;
  auto store = storage::Store::Open(options_.db, mac != nullptr ? *mac : *audit_mac_, *checkpoints_, store_options);
  if (!store.ok()) return store.status().WithContext("open database " + storage::Store::DescribeLocation(options_.db));
  store_ = std::move(store).value();
  return OkStatus();
}

kms::Registry Context::MakeRegistry() {
  return kms::Registry(*session_, keys_, *store_, actor(), kms::SystemClockMs, ceremony_.get());
}

Status InitToken(const GlobalOptions& g, const std::string& label, const std::string& so_pin_file,
                 const p11::PinSource& user_pin_source) {
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes so_pin, p11::ReadPin({so_pin_file, ""}));
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes user_pin, p11::ReadPin(user_pin_source));
  SIMKMS_ASSIGN_OR_RETURN(auto module, p11::Module::Load(g.module, {.init_args = g.module_init_args}));
  if (module->FindToken(p11::TokenUri::ForLabel(label)).ok()) {
    return AlreadyExistsError("a token labelled '" + label + "' already exists");
  }
  SIMKMS_ASSIGN_OR_RETURN(CK_SLOT_ID slot, module->FreeSlot());
  SIMKMS_RETURN_IF_ERROR(p11::InitToken(*module, slot, so_pin, label));
  auto found = module->FindToken(p11::TokenUri::ForLabel(label));
  if (found.status().code() == StatusCode::kNotFound) {
    // NSS's softoken: C_InitToken takes no label (tokenDescription in the init
    // arguments names each database) and leaves no initialised token behind.
    return FailedPreconditionError("after C_InitToken no initialised token is labelled '" + label + "' in " +
                                   g.module + ": this module's tokens are made elsewhere (docs/hsm-compatibility.md); "
                                   "set their PINs and run without --init-token");
  }
  SIMKMS_ASSIGN_OR_RETURN(p11::SlotToken token, std::move(found));
  SIMKMS_ASSIGN_OR_RETURN(p11::Session session, p11::Session::Open(module, token.slot));
  SIMKMS_RETURN_IF_ERROR(session.Login(CKU_SO, so_pin));
  SIMKMS_RETURN_IF_ERROR(session.InitPin(user_pin));
  return session.Logout();
}

Status WritePrivateFile(const std::string& path, const std::string& content) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return FailedPreconditionError("cannot create " + path + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      int err = errno;
      close(fd);
      return UnavailableError("cannot write " + path + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) return UnavailableError("cannot sync " + path);
  return OkStatus();
}

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFoundError("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace simkms::kmsctl
