#include "kms/audit_epochs.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/openssl_ptr.h"
#include "kms/rsa_recipient_internal.h"
#include "kms/token_policy.h"

namespace simkms::kms {
namespace {

constexpr std::size_t kEpochKeySize = 32;
constexpr std::size_t kSeedCheckSize = 8;

Bytes EpochId(uint64_t epoch) {
  Bytes id(8);
  for (int i = 7; i >= 0; --i) id[static_cast<std::size_t>(7 - i)] = static_cast<uint8_t>(epoch >> (8 * i));
  return id;
}

StatusOr<SecretBytes> SoftwareAes256Ecb(const SecretBytes& key, const Bytes& data) {
  if (key.size() != kEpochKeySize) return InvalidArgumentError("audit epoch key must be 32 bytes");
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  SecretBytes out(data.size());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_ecb(), nullptr, key.reveal().data(), nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.mutable_data(), &len, data.data(), static_cast<int>(data.size())) != 1 ||
      static_cast<std::size_t>(len) != data.size()) {
    return InternalError("AES-256-ECB failed");
  }
  return out;
}

Bytes HmacSha256(const SecretBytes& key, ByteView data) {
  Bytes out(32);
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.reveal().data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &len);
  out.resize(len);
  return out;
}

ByteView CheckMessage() {
  return {reinterpret_cast<const uint8_t*>(kAuditSeedCheckMessage.data()), kAuditSeedCheckMessage.size()};
}

}  // namespace

Bytes AuditEpochDerivationData(std::string_view purpose, uint64_t epoch) {
  Bytes out;
  for (uint8_t i = 0; i < 2; ++i) {
    for (std::size_t k = 0; k < 4; ++k) out.push_back(k < purpose.size() ? static_cast<uint8_t>(purpose[k]) : 0);
    const Bytes id = EpochId(epoch);
    out.insert(out.end(), id.begin(), id.end());
    out.insert(out.end(), {0, 0, 0, i});
  }
  return out;
}

p11::Attributes AuditEpochKeyTemplate(uint64_t epoch) {
  return PersistentKeyTemplate(AuditEpochKeyPolicy(), labels::kAuditEpochKey, kEpochKeySize, EpochId(epoch));
}

StatusOr<p11::ScopedObject> DeriveAuditMacKey(p11::Session& session, CK_OBJECT_HANDLE epoch_key, uint64_t epoch) {
  Bytes data = AuditEpochDerivationData("HMAC", epoch);
  CK_KEY_DERIVATION_STRING_DATA params{data.data(), static_cast<CK_ULONG>(data.size())};
  p11::Attributes m;
  m.Ulong(CKA_CLASS, CKO_SECRET_KEY)
      .Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
      .Ulong(CKA_VALUE_LEN, kEpochKeySize)
      .Bool(CKA_TOKEN, false)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false)
      .Bool(CKA_SIGN, true)
      .Bool(CKA_VERIFY, true)
      .Bool(CKA_DERIVE, false);
  return session.DeriveKey({CKM_AES_ECB_ENCRYPT_DATA, &params, sizeof params}, epoch_key, m,
                           "audit MAC key of epoch " + std::to_string(epoch));
}

StatusOr<SecretBytes> SoftwareNextEpochKey(const SecretBytes& epoch_key, uint64_t epoch) {
  return SoftwareAes256Ecb(epoch_key, AuditEpochDerivationData("NEXT", epoch));
}

StatusOr<SecretBytes> SoftwareEpochMacKey(const SecretBytes& epoch_key, uint64_t epoch) {
  return SoftwareAes256Ecb(epoch_key, AuditEpochDerivationData("HMAC", epoch));
}

// ------------------------------------------------------------------ export file

std::string AuditorSeedExport::ToJson() const {
  nlohmann::ordered_json j;
  j["format"] = kAuditSeedFormat;
  j["first_epoch"] = first_epoch;
  j["created_ms"] = created_ms;
  j["wrapping"] = wrapping;
  j["recipient_spki_sha256"] = ToHex(recipient_spki_sha256);
  j["wrapped_seed"] = ToHex(wrapped_seed);
  j["seed_check"] = ToHex(seed_check);
  return j.dump(2) + "\n";
}

StatusOr<AuditorSeedExport> AuditorSeedExport::FromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgumentError("audit seed export file is not JSON");
  auto hex = [&](const char* field) -> StatusOr<Bytes> {
    if (!j.contains(field) || !j[field].is_string()) {
      return InvalidArgumentError(std::string("audit seed export file lacks string field '") + field + "'");
    }
    auto b = FromHex(j[field].get<std::string>());
    if (!b.ok()) return InvalidArgumentError(std::string("audit seed export file: '") + field + "' is not hex");
    return b;
  };
  if (!j.contains("format") || !j["format"].is_string() || j["format"].get<std::string>() != kAuditSeedFormat) {
    return InvalidArgumentError(std::string("not an audit seed export file (format must be '") + kAuditSeedFormat +
                                "')");
  }
  AuditorSeedExport e;
  if (!j.contains("first_epoch") || !j["first_epoch"].is_number_unsigned()) {
    return InvalidArgumentError("audit seed export file has no valid 'first_epoch'");
  }
  e.first_epoch = j["first_epoch"].get<uint64_t>();
  if (!j.contains("created_ms") || !j["created_ms"].is_number_integer()) {
    return InvalidArgumentError("audit seed export file has no valid 'created_ms'");
  }
  e.created_ms = j["created_ms"].get<int64_t>();
  if (!j.contains("wrapping") || !j["wrapping"].is_string() || j["wrapping"].get<std::string>() != kRsaOaepWrapping) {
    return InvalidArgumentError(std::string("audit seed export file: wrapping must be '") + kRsaOaepWrapping + "'");
  }
  e.wrapping = kRsaOaepWrapping;
  SIMKMS_ASSIGN_OR_RETURN(e.recipient_spki_sha256, hex("recipient_spki_sha256"));
  SIMKMS_ASSIGN_OR_RETURN(e.wrapped_seed, hex("wrapped_seed"));
  SIMKMS_ASSIGN_OR_RETURN(e.seed_check, hex("seed_check"));
  if (e.recipient_spki_sha256.size() != 32) return InvalidArgumentError("audit seed export file: recipient hash must be 32 bytes");
  if (e.seed_check.size() != kSeedCheckSize) return InvalidArgumentError("audit seed export file: seed_check must be 8 bytes");
  return e;
}

// ------------------------------------------------------------------ the ceremony's seed

StatusOr<std::optional<AuditorSeedExport>> CreateAuditEpochSeed(p11::Session& session, uint64_t first_epoch,
                                                                const std::string& auditor_public_key_pem,
                                                                int64_t now_ms) {
  p11::Attributes query;
  query.Ulong(CKA_CLASS, CKO_SECRET_KEY).Text(CKA_LABEL, labels::kAuditEpochKey);
  SIMKMS_ASSIGN_OR_RETURN(auto existing, session.FindAll(query));
  if (!existing.empty()) return AlreadyExistsError(std::string("token already holds ") + labels::kAuditEpochKey);
  const bool exported = !auditor_public_key_pem.empty();
  EvpPkeyPtr auditor;
  if (exported) {
    SIMKMS_ASSIGN_OR_RETURN(auditor, ParseRsaPem(auditor_public_key_pem, /*is_private=*/false, "auditor"));
  }
  if (!exported) {
    p11::Attributes a = AuditEpochKeyTemplate(first_epoch);
    SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject seed,
                            session.GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, a, "audit epoch seed"));
    seed.Release();
    return std::optional<AuditorSeedExport>();
  }
  // Exported: generated as an extractable session twin, wrapped, then sealed and
  // copied to the token unmodifiable (kms/token_policy.h, SealTwinToToken).
  p11::Attributes a = ExportableTwinTemplate(AuditEpochKeyPolicy(), labels::kAuditEpochKey, kEpochKeySize,
                                             EpochId(first_epoch));
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject seed,
                          session.GenerateKey({CKM_AES_KEY_GEN, nullptr, 0}, a, "audit epoch seed"));
  AuditorSeedExport out;
  out.first_epoch = first_epoch;
  out.created_ms = now_ms;
  out.wrapping = kRsaOaepWrapping;
  SIMKMS_ASSIGN_OR_RETURN(out.recipient_spki_sha256, SpkiSha256(auditor.get()));
  SIMKMS_ASSIGN_OR_RETURN(out.wrapped_seed, WrapForRecipient(session, auditor.get(), seed.get(),
                                                             "audit epoch seed under auditor key"));
  {
    // The check value, from the MAC key derived as at run time.
    SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject mac_key, DeriveAuditMacKey(session, seed.get(), first_epoch));
    SIMKMS_ASSIGN_OR_RETURN(Bytes check,
                            session.Sign({CKM_SHA256_HMAC, nullptr, 0}, mac_key.get(), CheckMessage(), "seed check"));
    out.seed_check.assign(check.begin(), check.begin() + kSeedCheckSize);
  }
  SIMKMS_RETURN_IF_ERROR(SealTwinToToken(session, std::move(seed), "audit epoch seed").status());
  return std::optional<AuditorSeedExport>(std::move(out));
}

// ------------------------------------------------------------------ the auditor

StatusOr<std::unique_ptr<AuditorAuditMac>> AuditorAuditMac::Open(const std::vector<AuditorSeedExport>& exports,
                                                                 const std::string& private_key_pem) {
  if (exports.empty()) return InvalidArgumentError("no audit seed export file given");
  SIMKMS_ASSIGN_OR_RETURN(EvpPkeyPtr priv, ParseRsaPem(private_key_pem, /*is_private=*/true, "auditor"));
  SIMKMS_ASSIGN_OR_RETURN(Bytes spki, SpkiSha256(priv.get()));
  std::vector<Seed> seeds;
  for (const AuditorSeedExport& e : exports) {
    const std::string which = "audit seed export for epoch " + std::to_string(e.first_epoch);
    if (!ConstantTimeEquals(spki, e.recipient_spki_sha256)) {
      return InvalidArgumentError(which + " was made for a different auditor key");
    }
    auto seed = UnwrapAsRecipient(priv.get(), e.wrapped_seed, "audit epoch seed");
    if (!seed.ok()) return seed.status().WithContext(which);
    if (seed->size() != kEpochKeySize) return InvalidArgumentError(which + ": unwrapped seed is not 32 bytes");
    SIMKMS_ASSIGN_OR_RETURN(SecretBytes mac_key, SoftwareEpochMacKey(*seed, e.first_epoch));
    const Bytes check = HmacSha256(mac_key, CheckMessage());
    if (!ConstantTimeEquals(ByteView(check).first(kSeedCheckSize), e.seed_check)) {
      return UnauthenticatedError(which + ": unwrapped seed does not match the file's seed_check: refusing it");
    }
    for (const Seed& other : seeds) {
      if (other.first_epoch == e.first_epoch) {
        return InvalidArgumentError("two audit seed export files start at epoch " + std::to_string(e.first_epoch));
      }
    }
    seeds.push_back({e.first_epoch, std::move(seed).value()});
  }
  std::sort(seeds.begin(), seeds.end(), [](const Seed& a, const Seed& b) { return a.first_epoch < b.first_epoch; });
  return std::unique_ptr<AuditorAuditMac>(new AuditorAuditMac(std::move(seeds)));
}

StatusOr<Bytes> AuditorAuditMac::Compute(ByteView) {
  return FailedPreconditionError("the auditor's audit key only verifies; it cannot MAC records");
}

Status AuditorAuditMac::Verify(ByteView, ByteView) {
  return FailedPreconditionError("the auditor verifies records under their own epoch (VerifyInEpoch)");
}

StatusOr<SecretBytes> AuditorAuditMac::MacKey(uint64_t epoch, bool chain_start) {
  std::optional<std::size_t> pick;
  for (std::size_t i = 0; i < seeds_.size(); ++i) {
    if (chain_start ? seeds_[i].first_epoch == epoch : seeds_[i].first_epoch <= epoch) pick = i;
  }
  if (!pick.has_value()) {
    return UnauthenticatedError(chain_start ? "no auditor seed starts a chain at epoch " + std::to_string(epoch)
                                            : "no auditor seed covers epoch " + std::to_string(epoch));
  }
  if (!cached_seed_.has_value() || *cached_seed_ != *pick || cached_epoch_ > epoch) {
    cached_seed_ = pick;
    cached_epoch_ = seeds_[*pick].first_epoch;
    cached_key_ = seeds_[*pick].key;
  }
  while (cached_epoch_ < epoch) {
    SIMKMS_ASSIGN_OR_RETURN(cached_key_, SoftwareNextEpochKey(cached_key_, cached_epoch_));
    ++cached_epoch_;
  }
  return SoftwareEpochMacKey(cached_key_, epoch);
}

Status AuditorAuditMac::VerifyInEpoch(uint64_t epoch, bool chain_start, ByteView data, ByteView mac) {
  std::lock_guard lock(mu_);
  auto key = MacKey(epoch, chain_start);
  if (!key.ok()) return key.status();
  return ConstantTimeEquals(HmacSha256(*key, data), mac) ? OkStatus()
                                                          : UnauthenticatedError("audit MAC mismatch");
}

}  // namespace simkms::kms
