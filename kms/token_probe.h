// The token conformance probe behind `kmsctl token probe`: before any key exists,
// does every mechanism, key type, attribute and template the appliance relies on
// behave on this token as the code needs? Each check runs the operation the
// appliance runs, with the templates it uses, on throwaway session objects (never a
// token object, so nothing is left on the token: every object is a ScopedObject,
// destroyed on every path, and a session object dies with its session anyway), and
// compares the result with a published test vector (TS 35.207, RFC 4493, RFC 4231,
// RFC 5649, SP 800-38A, the GCM paper, FIPS 81; for RFC 5649 of a 16-byte key, which
// the RFC has no example of, the value OpenSSL and pyca/cryptography agree on) or
// with the same key made another way (a derived key against encrypt-then-import, a
// DH secret derived on both sides, a wrapped key against its KCV after the unwrap).
//
// A check is required (kmsd or a ceremony fails without it) or optional (only a
// VER that names it needs it, e.g. the legacy DES profile, or nothing uses it yet
// and the row says what an operator would gain, e.g. OAEP over SHA-256).
// docs/hsm-compatibility.md lists the checks and their results per module.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"
#include "pkcs11/session.h"
#include "softcrypto/derivation_data.h"

namespace simkms::kms {

struct ProbeResult {
  std::string id;         // "aes-cmac": stable, for scripts and the docs' tables
  std::string what;       // "AES-CMAC of RFC 4493 example 2"
  std::string used_for;   // "KCVs, OTA CC, K_act"
  std::string mechanisms; // "CKM_AES_CMAC" ("-": attributes only)
  bool required = true;
  // Every mechanism the check needs is in C_GetMechanismList, and C_GetMechanismInfo
  // gives it the functions it is used for (CKF_ENCRYPT, CKF_DERIVE, ...); the mechanisms
  // missing or lacking a function are named in `missing`.
  bool present = true;
  std::string missing;
  bool behaves = false;  // the operation gave the expected result
  std::string detail;    // why not (the CKR code, the differing value's name); empty when it behaves
  // What counts is the behaviour: the appliance never asks a token what it offers,
  // and a module may do what it does not list (NSS softoken 3.87 derives with
  // CKM_AES_ECB_ENCRYPT_DATA, which its C_GetMechanismList leaves out).
  bool ok() const { return behaves; }
};

struct ProbeReport {
  std::string token_label;
  std::string manufacturer;  // CK_TOKEN_INFO.manufacturerID
  std::string model;         // CK_TOKEN_INFO.model
  std::string library;       // CK_INFO.libraryDescription and version
  std::vector<ProbeResult> results;
  // No required check failed.
  bool ok() const;
  // The ids of the failed required checks with what failed ("aes-cmac (CKM_AES_CMAC
  // not offered)"); empty when ok().
  std::vector<std::string> FailedRequired() const;
  // "16 of 16 required checks pass, 4 of 6 optional"
  std::string Summary() const;
  nlohmann::ordered_json ToJson() const;
};

// The names of every mechanism the checks need ("CKM_AES_CMAC", ...), sorted: what
// an HSM's allowed-mechanism policy must let through.
std::vector<std::string> ProbedMechanisms();

// Runs every check on `session` (logged in as the user, read-write). An error
// Status only when the token cannot be asked at all (C_GetTokenInfo fails); a
// check that fails is a result, not an error.
StatusOr<ProbeReport> ProbeToken(p11::Session& session);

// Runs the check `id` alone (NotFound for an id no check has).
StatusOr<ProbeResult> ProbeOne(p11::Session& session, std::string_view id);

// The checks kmsd runs at every start, before it serves (sc-engine/daemon/daemon.cc):
// the two protections no attribute read can show, because a module may keep an
// attribute and not act on it. "unmodifiable": no function of a persistent key can be
// switched on later. "unwrap-template": a Ki_2 blob cannot be unwrapped under the
// storage KEK as an extractable key (NSS's softoken keeps CKA_UNWRAP_TEMPLATE and
// ignores it). Every other requirement fails loudly where it is used.
std::span<const std::string_view> StartupEnforcementChecks();

// Whether a VER of `profile` can work on this token, asked when the VER is added
// (kmsctl ver add, kms::Registry::AddVer) rather than at its first chip: the legacy
// profile derives Ki_1 from a DES K1 by CKM_DES_ECB_ENCRYPT_DATA, which some modules
// lack (NSS's softoken); FailedPrecondition then, naming the check "des-legacy".
Status CheckProfileOnToken(p11::Session& session, Profile profile);

}  // namespace simkms::kms
