#include "tools/chipsim/chip_image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/wiped_buffer.h"
#include "tools/chipsim/card_files.h"

namespace simkms::chip {
namespace {

using Json = nlohmann::ordered_json;

std::string Sha256Hex(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  return ToHex(ByteView(md, len));
}

std::string SecretHex(const SecretBytes& s) { return ToHex(s.reveal()); }

Json ToJson(const ChipState& s) {
  Json doc;
  doc["format"] = kImageFormat;
  doc["version"] = kImageVersion;
  Json files;
  files["ef_iccid"] = ToHex(s.ef_iccid);
  files["ef_imsi"] = ToHex(s.ef_imsi);
  files["ver"] = s.ver;
  files["profile"] = kms::ProfileName(s.profile);
  files["mnc_length"] = static_cast<int>(s.mnc_length);
  Json writes = Json::object();
  for (const auto& [name, contents] : s.terminal_writes) writes[name] = SecretHex(contents);
  files["terminal_writes"] = writes;
  doc["files"] = files;

  Json sec;
  sec["dh_group"] = Json{{"kind", kms::DhGroupKindName(s.dh_group.kind)},
                         {"p", ToHex(s.dh_group.p)},
                         {"g", ToHex(s.dh_group.g)}};
  sec["ki1"] = SecretHex(s.ki1);
  sec["ki1_opc"] = SecretHex(s.ki1_opc);
  sec["active_key"] = ActiveKeyName(s.active_key);
  sec["ki2"] = SecretHex(s.ki2);
  sec["ki2_opc"] = SecretHex(s.ki2_opc);
  if (s.pending) {
    sec["pending"] = Json{{"ki2", SecretHex(s.pending->ki2)},
                          {"k_confirm", SecretHex(s.pending->k_confirm)},
                          {"puk", SecretHex(s.pending->puk)},
                          {"session_id", ToHex(s.pending->session_id)},
                          {"expected_commit_mac", ToHex(s.pending->expected_commit_mac)}};
  } else {
    sec["pending"] = nullptr;
  }
  Json sqn = Json::array();
  for (uint64_t e : s.sqn.entries()) sqn.push_back(e);
  sec["sqn_ms"] = sqn;
  sec["ota_counter"] = Json{{"out", s.ota.out}, {"in", s.ota.in}};
  sec["chv1"] = Json{{"value", SecretHex(s.pin.value())}, {"tries_left", s.pin.tries_left()}, {"enabled", s.pin_enabled}};
  sec["unblock_chv1"] = Json{{"value", SecretHex(s.puk.value())}, {"tries_left", s.puk.tries_left()}};
  doc["secure"] = sec;
  return doc;
}

// Field access that turns every missing or mistyped field into a DataLoss
// naming its path, instead of an exception.
class Reader {
 public:
  explicit Reader(Status* error) : error_(error) {}

  const Json* Field(const Json& obj, const char* name, const std::string& path) {
    if (!error_->ok()) return nullptr;
    if (!obj.is_object() || !obj.contains(name)) {
      Fail(path + "." + name + " is missing");
      return nullptr;
    }
    return &obj.at(name);
  }
  std::string String(const Json& obj, const char* name, const std::string& path) {
    const Json* v = Field(obj, name, path);
    if (v == nullptr) return {};
    if (!v->is_string()) {
      Fail(path + "." + name + " must be a string");
      return {};
    }
    return v->get<std::string>();
  }
  Bytes Hex(const Json& obj, const char* name, const std::string& path, std::size_t size = SIZE_MAX) {
    std::string text = String(obj, name, path);
    WipeOnExit wipe_text(text);  // a key's hex, for Secret
    if (!error_->ok()) return {};
    auto bytes = FromHex(text);
    if (!bytes.ok()) {
      Fail(path + "." + name + ": " + bytes.status().message());
      return {};
    }
    if (size != SIZE_MAX && bytes->size() != size) {
      Fail(path + "." + name + " must be " + std::to_string(size) + " bytes, got " + std::to_string(bytes->size()));
      return {};
    }
    return std::move(*bytes);
  }
  SecretBytes Secret(const Json& obj, const char* name, const std::string& path, std::size_t size = SIZE_MAX) {
    Bytes b = Hex(obj, name, path, size);
    WipeOnExit wipe_b(b);
    return SecretBytes::Copy(b);
  }
  uint64_t Uint(const Json& obj, const char* name, const std::string& path, uint64_t max) {
    const Json* v = Field(obj, name, path);
    if (v == nullptr) return 0;
    if (!v->is_number_unsigned() || v->get<uint64_t>() > max) {
      Fail(path + "." + name + " must be an integer 0.." + std::to_string(max));
      return 0;
    }
    return v->get<uint64_t>();
  }
  bool Bool(const Json& obj, const char* name, const std::string& path) {
    const Json* v = Field(obj, name, path);
    if (v == nullptr) return false;
    if (!v->is_boolean()) {
      Fail(path + "." + name + " must be true or false");
      return false;
    }
    return v->get<bool>();
  }
  template <std::size_t N>
  void Array(const Json& obj, const char* name, const std::string& path, std::array<uint8_t, N>& out) {
    Bytes b = Hex(obj, name, path, N);
    if (error_->ok()) std::copy(b.begin(), b.end(), out.begin());
  }
  void Fail(std::string message) {
    if (error_->ok()) *error_ = DataLossError(std::move(message));
  }
  bool ok() const { return error_->ok(); }

 private:
  Status* error_;
};

StatusOr<ChipState> FromJson(const Json& doc) {
  Status error;
  Reader r(&error);
  if (!doc.is_object()) return DataLossError("chip image is not a JSON object");
  if (r.String(doc, "format", "image") != kImageFormat) {
    r.Fail("not a chip image (format must be \"" + std::string(kImageFormat) + "\")");
  }
  uint64_t version = r.Uint(doc, "version", "image", 1000);
  if (r.ok() && version == 1) {
    return FailedPreconditionError(
        "chip image version 1 holds the VER's K1 and OP in clear and is no longer read: pre-personalize the card "
        "again with simkms-mfr (image version 2 keeps only the card's Ki_1 and OPc) and destroy this file");
  }
  if (r.ok() && version != kImageVersion && version != 2) {
    r.Fail("chip image version " + std::to_string(version) + " is not supported (this build reads 2 and " +
           std::to_string(kImageVersion) + ")");
  }
  const Json* files = r.Field(doc, "files", "image");
  const Json* sec = r.Field(doc, "secure", "image");
  if (!r.ok()) return error;

  ChipState s;
  r.Array(*files, "ef_iccid", "files", s.ef_iccid);
  r.Array(*files, "ef_imsi", "files", s.ef_imsi);
  s.ver = static_cast<uint32_t>(r.Uint(*files, "ver", "files", UINT32_MAX));
  std::string profile = r.String(*files, "profile", "files");
  if (!r.ok()) return error;
  auto parsed_profile = kms::ParseProfile(profile);
  if (!parsed_profile.ok()) return DataLossError("files.profile: " + parsed_profile.status().message());
  s.profile = *parsed_profile;
  // Version 2 had neither: its cards were made with a 2-digit MNC (what simkms-mfr
  // assumed then) and kept no terminal writes.
  if (version >= 3) {
    auto mnc_length = MncLengthOf(static_cast<int>(r.Uint(*files, "mnc_length", "files", 3)));
    if (!r.ok()) return error;
    if (!mnc_length.ok()) return DataLossError("files.mnc_length: " + mnc_length.status().message());
    s.mnc_length = *mnc_length;
    const Json* writes = r.Field(*files, "terminal_writes", "files");
    if (!r.ok()) return error;
    if (!writes->is_object()) return DataLossError("files.terminal_writes must be an object");
    for (const auto& [name, value] : writes->items()) {
      s.terminal_writes[name] = r.Secret(*writes, name.c_str(), "files.terminal_writes");
    }
    if (!r.ok()) return error;
  }

  const Json* dh = r.Field(*sec, "dh_group", "secure");
  if (!r.ok()) return error;
  std::string kind = r.String(*dh, "kind", "secure.dh_group");
  s.dh_group.p = r.Hex(*dh, "p", "secure.dh_group");
  s.dh_group.g = r.Hex(*dh, "g", "secure.dh_group");
  if (!r.ok()) return error;
  auto parsed_kind = kms::ParseDhGroupKind(kind);
  if (!parsed_kind.ok()) return DataLossError("secure.dh_group.kind: " + parsed_kind.status().message());
  s.dh_group.kind = *parsed_kind;

  s.ki1 = r.Secret(*sec, "ki1", "secure", kKiSize);
  s.ki1_opc = r.Secret(*sec, "ki1_opc", "secure", kOpSize);
  std::string active = r.String(*sec, "active_key", "secure");
  if (r.ok()) {
    if (active == "Ki_1") s.active_key = ActiveKey::kKi1;
    else if (active == "Ki_2") s.active_key = ActiveKey::kKi2;
    else r.Fail("secure.active_key must be \"Ki_1\" or \"Ki_2\"");
  }
  s.ki2 = r.Secret(*sec, "ki2", "secure");
  s.ki2_opc = r.Secret(*sec, "ki2_opc", "secure");
  const Json* pending = r.Field(*sec, "pending", "secure");
  if (!r.ok()) return error;
  if (!pending->is_null()) {
    PendingKey p;
    p.ki2 = r.Secret(*pending, "ki2", "secure.pending", kKiSize);
    p.k_confirm = r.Secret(*pending, "k_confirm", "secure.pending", kKiSize);
    p.puk = r.Secret(*pending, "puk", "secure.pending");
    r.Array(*pending, "session_id", "secure.pending", p.session_id);
    r.Array(*pending, "expected_commit_mac", "secure.pending", p.expected_commit_mac);
    s.pending = std::move(p);
  }

  const Json* sqn = r.Field(*sec, "sqn_ms", "secure");
  if (!r.ok()) return error;
  if (!sqn->is_array() || sqn->size() != SqnArray::kSize) {
    return DataLossError("secure.sqn_ms must be an array of " + std::to_string(SqnArray::kSize) + " integers");
  }
  SqnArray::Entries entries{};
  for (std::size_t i = 0; i < SqnArray::kSize; ++i) {
    const Json& e = (*sqn)[i];
    if (!e.is_number_unsigned()) return DataLossError("secure.sqn_ms[" + std::to_string(i) + "] is not an integer");
    entries[i] = e.get<uint64_t>();
  }
  SIMKMS_ASSIGN_OR_RETURN(s.sqn, SqnArray::FromEntries(entries));

  const Json* ota = r.Field(*sec, "ota_counter", "secure");
  if (!r.ok()) return error;
  s.ota.out = r.Uint(*ota, "out", "secure.ota_counter", kOtaCounterMax);
  s.ota.in = r.Uint(*ota, "in", "secure.ota_counter", kOtaCounterMax);

  const Json* chv1 = r.Field(*sec, "chv1", "secure");
  const Json* unblock = r.Field(*sec, "unblock_chv1", "secure");
  if (!r.ok()) return error;
  SecretBytes pin_value = r.Secret(*chv1, "value", "secure.chv1", kChvSize);
  uint64_t pin_tries = r.Uint(*chv1, "tries_left", "secure.chv1", kPinMaxTries);
  s.pin_enabled = r.Bool(*chv1, "enabled", "secure.chv1");
  SecretBytes puk_value = r.Secret(*unblock, "value", "secure.unblock_chv1", kChvSize);
  uint64_t puk_tries = r.Uint(*unblock, "tries_left", "secure.unblock_chv1", kPukMaxTries);
  if (!r.ok()) return error;
  SIMKMS_ASSIGN_OR_RETURN(s.pin, Chv::Create(std::move(pin_value), kPinMaxTries, static_cast<uint8_t>(pin_tries)));
  SIMKMS_ASSIGN_OR_RETURN(s.puk, Chv::Create(std::move(puk_value), kPukMaxTries, static_cast<uint8_t>(puk_tries)));

  SIMKMS_RETURN_IF_ERROR(Validate(s));
  SIMKMS_RETURN_IF_ERROR(ValidateTerminalWrites(s));
  return s;
}

Status Errno(std::string what, const std::filesystem::path& path) {
  return UnavailableError(what + " " + path.string() + ": " + std::strerror(errno));
}

// Closes a descriptor on every path out of SaveChipImage.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string SerializeChipImage(const ChipState& state) {
  Json doc = ToJson(state);
  std::string body = doc.dump();
  WipeOnExit wipe_body(body);
  doc["checksum"] = Sha256Hex(body);
  return doc.dump(2) + "\n";
}

StatusOr<ChipState> ParseChipImage(std::string_view text) {
  Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return DataLossError("chip image is not valid JSON (truncated or corrupted?)");
  if (!doc.is_object() || !doc.contains("checksum") || !doc["checksum"].is_string()) {
    return DataLossError("chip image has no checksum");
  }
  std::string checksum = doc["checksum"].get<std::string>();
  doc.erase("checksum");
  std::string body = doc.dump();
  WipeOnExit wipe_body(body);
  bool match = ConstantTimeEquals(AsBytes(Sha256Hex(body)), AsBytes(checksum));
  if (!match) return DataLossError("chip image checksum mismatch (the file was altered or corrupted)");
  return FromJson(doc);
}

Status SaveChipImage(const std::filesystem::path& path, const ChipState& state) {
  std::filesystem::path dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  std::string tmpl = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  std::string text = SerializeChipImage(state);
  WipeOnExit wipe_text(text);
  Fd tmp;
  tmp.fd = ::mkstemp(tmpl.data());  // mode 0600 from creation
  if (tmp.fd < 0) {
    return Errno("cannot create a temporary file next to", path);
  }
  std::filesystem::path tmp_path = tmpl;
  Status status;
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(tmp.fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      status = Errno("cannot write", tmp_path);
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (status.ok() && ::fchmod(tmp.fd, 0600) != 0) status = Errno("cannot chmod", tmp_path);
  if (status.ok() && ::fsync(tmp.fd) != 0) status = Errno("cannot fsync", tmp_path);
  if (status.ok() && ::close(tmp.fd) != 0) status = Errno("cannot close", tmp_path);
  tmp.fd = -1;
  if (status.ok() && ::rename(tmp_path.c_str(), path.c_str()) != 0) status = Errno("cannot rename onto", path);
  if (!status.ok()) {
    ::unlink(tmp_path.c_str());
    return status;
  }
  // The rename is durable only once the directory entry is on disk.
  Fd d;
  d.fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d.fd < 0 || ::fsync(d.fd) != 0) return Errno("cannot fsync directory", dir);
  return OkStatus();
}

StatusOr<ChipState> LoadChipImage(const std::filesystem::path& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return NotFoundError("no chip image at " + path.string());
    return Errno("cannot stat", path);
  }
  if (!S_ISREG(st.st_mode)) return InvalidArgumentError(path.string() + " is not a regular file");
  if ((st.st_mode & 077) != 0) {
    return PermissionDeniedError("chip image " + path.string() +
                                 " is accessible by group or others (holds the card's keys); chmod 600 it");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Errno("cannot open", path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  WipeOnExit wipe_text(text);
  auto state = ParseChipImage(text);
  if (!state.ok()) return state.status().WithContext("chip image " + path.string());
  return state;
}

}  // namespace simkms::chip
