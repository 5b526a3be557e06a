#include "sc-engine/engine/auc_service.h"

#include "kms/auc_vectors.h"
#include "kms/ki1.h"
#include "kms/registry.h"
#include "policy/lifecycle.h"

namespace simkms::sc {

StatusOr<std::vector<kms::AuthVector>> AucService::SendAuthInfo(p11::Session& session,
                                                               const AuthInfoRequest& request) {
  const unsigned n = request.num_vectors == 0 || request.num_vectors > 5 ? 5 : request.num_vectors;
  for (int attempt = 0;; ++attempt) {
    SIMKMS_ASSIGN_OR_RETURN(storage::SubscriberRecord r, store_.GetSubscriber(request.imsi));
    const policy::AuthKey which = policy::AuthVectorKey(r.state);
    if (which == policy::AuthKey::kNone) {
      return FailedPreconditionError("subscriber " + r.imsi + " has no usable key (" +
                                     std::string(policy::StateName(r.state)) + ")");
    }
    SIMKMS_ASSIGN_OR_RETURN(storage::VerRecord ver, store_.GetVer(r.ver));
    SIMKMS_ASSIGN_OR_RETURN(SecretBytes op, keys_.VerOp(session, ver));

    // The subscriber key: Ki_1 derived now (destroyed with `ki1`), or Ki_2 from the cache.
    p11::ScopedObject ki1;
    kms::Ki2Cache::Handle ki2;
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    if (which == policy::AuthKey::kKi1) {
      SIMKMS_ASSIGN_OR_RETURN(ki1, keys_.Ki1(session, r, ver));
      key = ki1.get();
    } else {
      SIMKMS_ASSIGN_OR_RETURN(ki2, keys_.Ki2(session, r, r.ki2_key_id));
      key = ki2->get();
    }
    SIMKMS_ASSIGN_OR_RETURN(kms::Block opc, kms::ComputeOpcInToken(session, key, op));

    uint64_t last = r.sqn;
    if (request.auts) {
      if (!request.auts_rand) return InvalidArgumentError("AUTS without the RAND it answers");
      auto sqn_ms = kms::VerifyAutsInToken(session, key, opc, *request.auts_rand, *request.auts);
      if (!sqn_ms.ok()) {
        SecureWipe(opc.data(), opc.size());
        return sqn_ms.status().WithContext("AUTS of " + r.imsi);
      }
      last = kms::SqnToUint64(*sqn_ms);
    }
    std::vector<std::pair<kms::Block, kms::Sqn>> inputs(n);
    for (auto& [rand, sqn] : inputs) {
      SIMKMS_RETURN_IF_ERROR(session.GenerateRandom(rand.data(), rand.size()));
      last = NextSqn(last, request.ind);
      sqn = kms::SqnFromUint64(last);
    }
    kms::Amf amf{ver.amf.size() == 2 ? ver.amf[0] : uint8_t{0}, ver.amf.size() == 2 ? ver.amf[1] : uint8_t{0}};
    auto vectors = kms::GenerateVectorsInToken(session, key, opc, inputs, amf);
    SecureWipe(opc.data(), opc.size());
    if (!vectors.ok()) return vectors.status();
    // The SQN is on disk before any vector leaves.
    const storage::Store::Counters before{r.sqn, r.ota_counter_in, r.ota_counter_out};
    storage::Store::Counters after = before;
    after.sqn = last;
    Status stored = store_.AdvanceCounters({{r.imsi, before, after}});
    if (stored.ok()) return vectors;
    if (stored.code() != StatusCode::kFailedPrecondition || attempt >= 3) return stored;
    // Another request for the same subscriber moved the SQN: compute again from the new one.
  }
}

}  // namespace simkms::sc
