// The operator's registry of VERs and manufacturer ranges: each operation checks
// its input, does its token work, and commits the record change together with its
// audit record (storage::Store::Commit). Used by kmsctl offline and, later, by the
// daemon's admin socket. Bad input gets a clear error and changes nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "kms/ceremony_token.h"
#include "kms/k1_export.h"
#include "kms/token_keys.h"
#include "pkcs11/session.h"
#include "softcrypto/derivation_data.h"
#include "storage/store.h"

namespace simkms::kms {

struct Actor {
  std::string role;      // "custodian", "operator", ...
  std::string identity;  // a name, a certificate CN
};

// Unix milliseconds; injected so tests control time.
using Clock = std::function<int64_t()>;
int64_t SystemClockMs();

struct NewVer {
  uint32_t ver = 0;
  Profile profile = Profile::kModern;
  std::string dh_group = "ffdhe2048";  // ffdhe2048 | ffdhe3072 | p256 | custom
  Bytes custom_p;                      // custom only: big-endian p
  Bytes custom_g;                      // custom only: big-endian g
  SecretBytes op;                      // 16-byte Milenage OP; empty: generate one in the token
  Bytes amf{0x80, 0x00};               // 2 bytes
  std::string description;
  // Without the ceremony token (kmsd's admin socket): the KCV of the K1 that
  // `kmsctl ver add` moved to the runtime token beforehand, from the ceremony
  // token that computed it. Ignored with the ceremony token, which computes it.
  Bytes k1_kcv;
};

class Registry {
 public:
  // `session` is on the runtime token. `ceremony` (kms/ceremony_token.h), when
  // given, is MK's token: kmsctl's ceremonies have it, kmsd never does.
  Registry(p11::Session& session, const ServiceKeys& keys, storage::Store& store, Actor actor, Clock clock,
           CeremonyToken* ceremony = nullptr)
      : session_(session),
        keys_(keys),
        store_(store),
        actor_(std::move(actor)),
        clock_(std::move(clock)),
        ceremony_(ceremony) {}

  // Validates the group (custom: safe prime, generator of the order-q subgroup),
  // seals OP, commits the VER with "ver.add". With the ceremony token, K1 is
  // derived there and moved to the runtime token; without it, K1 must already be
  // on the runtime token (moved by `kmsctl ver add` before it called kmsd) and
  // request.k1_kcv says its KCV.
  StatusOr<storage::VerRecord> AddVer(NewVer request);

  // The VER's activation-code policy for new contracts: required (the default)
  // or optional. Relaxing it lets a contract be made without an activation code,
  // whose first call anyone holding the VER's K1 can then take over
  // (docs/lifecycle.md). Committed with its audit record "ver.policy"; NotFound
  // for an unknown VER; setting the value the VER already has changes nothing
  // and is not audited.
  StatusOr<storage::VerRecord> SetActivationCodePolicy(uint32_t ver, bool code_required);

  // The VER's regular re-key policy (docs/lifecycle.md, "Regular re-key"): kmsd
  // asks for a new Ki_2 of every PERSONALIZED subscriber whose Ki_2 is
  // `policy.max_ki2_age_seconds` old, at the rates it gives; all zero removes the
  // policy. InvalidArgument outside policy/rekey_policy.h's bounds, NotFound for an
  // unknown VER (either way nothing changes); committed with its audit record
  // "ver.rekey-policy"; setting the policy the VER already has changes nothing and
  // is not audited.
  StatusOr<storage::VerRecord> SetRekeyPolicy(uint32_t ver, const storage::RekeyPolicy& policy);

  // K1 of `ver` wrapped for the manufacturer; audited as "ver.export-k1". Needs
  // the ceremony token.
  StatusOr<K1Export> ExportK1(uint32_t ver, const std::string& manufacturer, const std::string& public_key_pem);

  // A manufacturer's ICCID range (19- or 20-digit first ICCID with its Luhn digit) and IMSI
  // range (15 digits, MNC of mnc_digits) of `count` chips, mapped 1:1 by position. Refuses overlaps
  // with any existing range, an unknown VER, malformed numbers, overflow.
  StatusOr<storage::RangeRecord> AssignRange(const std::string& manufacturer, uint32_t ver,
                                             const std::string& first_iccid, const std::string& first_imsi,
                                             int mnc_digits, uint64_t count);

  // Moves the K1 of every VER in the store to the runtime token (after a restore
  // onto fresh tokens, or on a cluster node for the VERs added on another node
  // since: `kmsctl ver sync`) and checks each KCV against the VER record. Needs the
  // ceremony token. The VERs whose K1 was missing and is now there go to
  // *moved_vers (if given).
  StatusOr<std::size_t> RederiveAllK1(std::vector<uint32_t>* moved_vers = nullptr);

 private:
  storage::AuditEvent Event(std::string name, std::string subject,
                            std::vector<std::pair<std::string, std::string>> details) const;

  p11::Session& session_;
  const ServiceKeys& keys_;
  storage::Store& store_;
  Actor actor_;
  Clock clock_;
  CeremonyToken* ceremony_;
};

Profile FromStorage(storage::KeyProfile p);
storage::KeyProfile ToStorage(Profile p);

}  // namespace simkms::kms
