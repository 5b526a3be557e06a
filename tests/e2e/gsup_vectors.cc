#include "tests/e2e/gsup_vectors.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "softcrypto/milenage.h"
#include "softcrypto/software_aes.h"
#include "tools/gsup-client/gsup_connection.h"

namespace simkms::e2e {

void RunMsc(uint16_t port, const std::string& name, const std::vector<std::string>& imsis,
            const std::function<bool()>& done,
            const std::function<void(const std::string& imsi, const std::vector<gsup::AuthTuple>&)>& record) {
  std::unique_ptr<gsup_client::GsupConnection> link;
  for (std::size_t i = 0; !done(); ++i) {
    if (!link) {
      link = std::make_unique<gsup_client::GsupConnection>();
      if (!link->Connect({"127.0.0.1", port}, name, 2000).ok()) {
        link.reset();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
    }
    const std::string& imsi = imsis[i % imsis.size()];
    auto answer = link->Exchange(gsup::MakeSendAuthInfoRequest(imsi, 2));
    if (!answer.ok()) {
      link.reset();
      continue;
    }
    record(imsi, answer->tuples);
  }
}

std::optional<uint64_t> SqnOnChip(const SecretBytes& key, const SecretBytes& opc, const gsup::AuthTuple& t) {
  auto k = kms::SoftwareAes128::Create(key).value();
  kms::Block opc_block{};
  std::copy(opc.reveal().begin(), opc.reveal().end(), opc_block.begin());
  auto check = kms::CheckAutn(*k, opc_block, t.rand, t.autn);
  if (!check.ok() || Bytes(check->res.begin(), check->res.end()) != t.res) return std::nullopt;
  return kms::SqnToUint64(check->sqn);
}

}  // namespace simkms::e2e
