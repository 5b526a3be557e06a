#include "kms/k1_export.h"

#include <openssl/evp.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "base/openssl_ptr.h"
#include "kms/kcv.h"
#include "kms/master_derivation.h"
#include "kms/rsa_recipient_internal.h"
#include "kms/token_policy.h"
#include "softcrypto/software_keys.h"

namespace simkms::kms {

std::string K1Export::ToJson() const {
  nlohmann::ordered_json j;
  j["format"] = kK1ExportFormat;
  j["ver"] = ver;
  j["profile"] = std::string(ProfileName(profile));
  j["key_type"] = profile == Profile::kLegacy ? "DES" : "AES-128";
  j["manufacturer"] = manufacturer;
  j["kcv"] = ToHex(kcv);
  j["wrapping"] = wrapping;
  j["recipient_spki_sha256"] = ToHex(recipient_spki_sha256);
  j["wrapped_k1"] = ToHex(wrapped_k1);
  j["dh_group"] = dh_group;
  if (!dh_p.empty()) {
    j["dh_p"] = ToHex(dh_p);
    j["dh_g"] = ToHex(dh_g);
  }
  j["amf"] = ToHex(amf);
  j["wrapped_op"] = ToHex(wrapped_op);
  j["op_check"] = ToHex(op_check);
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& r : ranges) {
    list.push_back({{"id", r.id}, {"iccid_first", r.iccid_first}, {"imsi_first", r.imsi_first}, {"count", r.count},
                    {"mnc_digits", r.mnc_digits}});
  }
  j["ranges"] = list;
  return j.dump(2) + "\n";
}

StatusOr<K1Export> K1Export::FromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgumentError("K1 export file is not JSON");
  auto str = [&](const char* field) -> StatusOr<std::string> {
    if (!j.contains(field) || !j[field].is_string()) {
      return InvalidArgumentError(std::string("K1 export file lacks string field '") + field + "'");
    }
    return j[field].get<std::string>();
  };
  K1Export e;
  SIMKMS_ASSIGN_OR_RETURN(std::string format, str("format"));
  if (format == "simkms-k1-export/1") {
    return InvalidArgumentError("K1 export format '" + format +
                                "' predates the ranges' MNC length; ask the operator to export K1 again");
  }
  if (format != kK1ExportFormat) return InvalidArgumentError("unknown K1 export format '" + format + "'");
  if (!j.contains("ver") || !j["ver"].is_number_unsigned() || j["ver"].get<uint64_t>() > UINT32_MAX) {
    return InvalidArgumentError("K1 export file has no valid 'ver'");
  }
  e.ver = j["ver"].get<uint32_t>();
  SIMKMS_ASSIGN_OR_RETURN(std::string profile, str("profile"));
  SIMKMS_ASSIGN_OR_RETURN(e.profile, ParseProfile(profile));
  SIMKMS_ASSIGN_OR_RETURN(e.manufacturer, str("manufacturer"));
  SIMKMS_ASSIGN_OR_RETURN(e.wrapping, str("wrapping"));
  if (e.wrapping != kK1Wrapping) return InvalidArgumentError("unknown K1 wrapping '" + e.wrapping + "'");
  SIMKMS_ASSIGN_OR_RETURN(std::string kcv, str("kcv"));
  SIMKMS_ASSIGN_OR_RETURN(e.kcv, FromHex(kcv));
  SIMKMS_ASSIGN_OR_RETURN(std::string spki, str("recipient_spki_sha256"));
  SIMKMS_ASSIGN_OR_RETURN(e.recipient_spki_sha256, FromHex(spki));
  SIMKMS_ASSIGN_OR_RETURN(std::string wrapped, str("wrapped_k1"));
  SIMKMS_ASSIGN_OR_RETURN(e.wrapped_k1, FromHex(wrapped));
  if (e.kcv.size() != 3) return InvalidArgumentError("K1 export KCV must be 3 bytes");
  SIMKMS_ASSIGN_OR_RETURN(e.dh_group, str("dh_group"));
  if (e.dh_group == "custom") {
    SIMKMS_ASSIGN_OR_RETURN(std::string p, str("dh_p"));
    SIMKMS_ASSIGN_OR_RETURN(e.dh_p, FromHex(p));
    SIMKMS_ASSIGN_OR_RETURN(std::string g, str("dh_g"));
    SIMKMS_ASSIGN_OR_RETURN(e.dh_g, FromHex(g));
  }
  SIMKMS_ASSIGN_OR_RETURN(std::string amf, str("amf"));
  SIMKMS_ASSIGN_OR_RETURN(e.amf, FromHex(amf));
  if (e.amf.size() != 2) return InvalidArgumentError("K1 export AMF must be 2 bytes");
  SIMKMS_ASSIGN_OR_RETURN(std::string wrapped_op, str("wrapped_op"));
  SIMKMS_ASSIGN_OR_RETURN(e.wrapped_op, FromHex(wrapped_op));
  SIMKMS_ASSIGN_OR_RETURN(std::string op_check, str("op_check"));
  SIMKMS_ASSIGN_OR_RETURN(e.op_check, FromHex(op_check));
  if (!j.contains("ranges") || !j["ranges"].is_array()) return InvalidArgumentError("K1 export file lacks 'ranges'");
  for (const auto& r : j["ranges"]) {
    if (!r.is_object() || !r.contains("id") || !r["id"].is_string() || !r.contains("iccid_first") ||
        !r["iccid_first"].is_string() || !r.contains("imsi_first") || !r["imsi_first"].is_string() ||
        !r.contains("count") || !r["count"].is_number_unsigned() || !r.contains("mnc_digits") ||
        !r["mnc_digits"].is_number_unsigned()) {
      return InvalidArgumentError("K1 export file has a malformed range");
    }
    const uint64_t mnc_digits = r["mnc_digits"].get<uint64_t>();
    if (mnc_digits != 2 && mnc_digits != 3) {
      return InvalidArgumentError("K1 export range '" + r["id"].get<std::string>() + "' has MNC length " +
                                  std::to_string(mnc_digits) + "; it must be 2 or 3");
    }
    e.ranges.push_back({r["id"].get<std::string>(), r["iccid_first"].get<std::string>(),
                        r["imsi_first"].get<std::string>(), r["count"].get<uint64_t>(), static_cast<int>(mnc_digits)});
  }
  return e;
}

StatusOr<K1Export> ExportK1(p11::Session& session, CK_OBJECT_HANDLE mk, uint32_t ver, Profile profile,
                            const std::string& manufacturer, const std::string& public_key_pem,
                            const K1ExportContext& context) {
  if (manufacturer.empty()) return InvalidArgumentError("manufacturer name is empty");
  SIMKMS_ASSIGN_OR_RETURN(EvpPkeyPtr pub, ParseRsaPem(public_key_pem, /*is_private=*/false, "manufacturer"));

  // An extractable copy for the wrap, which also computes the KCV (encrypt for DES,
  // CMAC for AES) and can do nothing else.
  const DerivedKeySpec k1 = K1Spec(ver, profile);
  SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject k1_copy, DeriveSessionCopy(session, mk, k1, /*extractable=*/true,
                                                                       KcvUsage(k1.key_type), "K1 export copy"));

  K1Export out;
  out.ver = ver;
  out.profile = profile;
  out.manufacturer = manufacturer;
  out.wrapping = kK1Wrapping;
  SIMKMS_ASSIGN_OR_RETURN(out.recipient_spki_sha256, SpkiSha256(pub.get()));
  SIMKMS_ASSIGN_OR_RETURN(out.wrapped_k1, WrapForRecipient(session, pub.get(), k1_copy.get(), "K1 under manufacturer key"));
  // KCV from the same transient copy: the wrapped value and the KCV match by construction.
  SIMKMS_ASSIGN_OR_RETURN(out.kcv, TokenKcv(session, k1_copy.get(), "K1 export copy"));

  out.dh_group = context.dh_group;
  out.dh_p = context.dh_p;
  out.dh_g = context.dh_g;
  out.amf = context.amf;
  out.ranges = context.ranges;
  if (!context.op.empty()) {
    if (context.op.size() != 16) return InvalidArgumentError("OP must be 16 bytes");
    // The OP is already in host memory (unsealed from the VER record); the token
    // wraps it so that the same OAEP parameters and recipient check apply.
    p11::Attributes op_template;
    op_template.Ulong(CKA_CLASS, CKO_SECRET_KEY)
        .Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .Bool(CKA_TOKEN, false)
        .Bool(CKA_SENSITIVE, true)
        .Bool(CKA_PRIVATE, true)
        .Bool(CKA_EXTRACTABLE, true)
        .Secret(CKA_VALUE, context.op);
    SetUsage(op_template, kNoUsage);
    SIMKMS_ASSIGN_OR_RETURN(p11::ScopedObject op_object, session.CreateObject(op_template, "OP for export"));
    SIMKMS_ASSIGN_OR_RETURN(out.wrapped_op, WrapForRecipient(session, pub.get(), op_object.get(),
                                                             "OP under manufacturer key"));
    Bytes digest(32);
    unsigned int dlen = 0;
    if (EVP_Digest(context.op.reveal().data(), context.op.size(), digest.data(), &dlen, EVP_sha256(), nullptr) != 1) {
      return InternalError("SHA-256 failed");
    }
    out.op_check.assign(digest.begin(), digest.begin() + 3);
  }
  return out;
}

namespace {

StatusOr<SecretBytes> OaepDecrypt(const K1Export& file, const std::string& private_key_pem, const Bytes& wrapped,
                                  const char* what) {
  SIMKMS_ASSIGN_OR_RETURN(EvpPkeyPtr priv, ParseRsaPem(private_key_pem, /*is_private=*/true, "manufacturer"));
  SIMKMS_ASSIGN_OR_RETURN(Bytes spki, SpkiSha256(priv.get()));
  if (!ConstantTimeEquals(spki, file.recipient_spki_sha256)) {
    return InvalidArgumentError("K1 export for VER " + std::to_string(file.ver) +
                                " was made for a different manufacturer key");
  }
  return UnwrapAsRecipient(priv.get(), wrapped, what);
}

}  // namespace

StatusOr<SecretBytes> UnwrapOpFromExport(const K1Export& file, const std::string& private_key_pem) {
  if (file.wrapped_op.empty()) return NotFoundError("K1 export file carries no OP");
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes op, OaepDecrypt(file, private_key_pem, file.wrapped_op, "OP"));
  if (op.size() != 16) return InvalidArgumentError("unwrapped OP is not 16 bytes");
  Bytes digest(32);
  unsigned int dlen = 0;
  if (EVP_Digest(op.reveal().data(), op.size(), digest.data(), &dlen, EVP_sha256(), nullptr) != 1) {
    return InternalError("SHA-256 failed");
  }
  if (!ConstantTimeEquals(ByteView(digest).first(3), file.op_check)) {
    return UnauthenticatedError("unwrapped OP does not match the export file's check value: refusing it");
  }
  return op;
}

StatusOr<SecretBytes> UnwrapK1Export(const K1Export& file, const std::string& private_key_pem) {
  SIMKMS_ASSIGN_OR_RETURN(SecretBytes k1, OaepDecrypt(file, private_key_pem, file.wrapped_k1, "K1"));
  const std::size_t expected = file.profile == Profile::kLegacy ? 8 : 16;
  if (k1.size() != expected) {
    return InvalidArgumentError("unwrapped K1 has " + std::to_string(k1.size()) + " bytes, expected " +
                                std::to_string(expected));
  }
  SIMKMS_ASSIGN_OR_RETURN(Bytes kcv, file.profile == Profile::kLegacy ? SoftwareDesKcv(k1) : SoftwareAesKcv(k1));
  if (!ConstantTimeEquals(kcv, file.kcv)) {
    return UnauthenticatedError("unwrapped K1 has KCV " + ToHex(kcv) + " but the export file says " +
                                ToHex(file.kcv) + ": refusing it");
  }
  return k1;
}

}  // namespace simkms::kms
