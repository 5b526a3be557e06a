#include "tools/bench/rekey_requests.h"

#include "tools/bench/api_connection.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace simkms::bench {

StatusOr<RekeyRequestResult> RequestRekeys(const std::string& endpoint, const std::vector<std::string>& imsis,
                                           std::size_t connections) {
  SIMKMS_ASSIGN_OR_RETURN(sockaddr_in addr, ParseIpv4Endpoint(endpoint));
  {
    ApiConnection probe(addr);  // fail early, with the reason, when nothing listens
    SIMKMS_RETURN_IF_ERROR(probe.Open());
  }
  RekeyRequestResult result;
  result.accepted.assign(imsis.size(), false);
  std::vector<char> accepted(imsis.size(), 0);  // vector<bool> is not safe to write from threads
  std::atomic<std::size_t> next{0};
  std::mutex errors_mu;
  auto worker = [&] {
    ApiConnection conn(addr);
    for (std::size_t i = next++; i < imsis.size(); i = next++) {
      auto status = conn.Post("/v1/subscribers/" + imsis[i] + "/rekey");
      if (!status.ok()) status = conn.Post("/v1/subscribers/" + imsis[i] + "/rekey");  // reopened once
      if (status.ok() && *status == 200) {
        accepted[i] = 1;
        continue;
      }
      std::lock_guard lock(errors_mu);
      ++result.errors[status.ok() ? "http:" + std::to_string(*status) : "connection"];
    }
  };
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < std::max<std::size_t>(1, connections); ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (std::size_t i = 0; i < imsis.size(); ++i) result.accepted[i] = accepted[i] != 0;
  return result;
}

}  // namespace simkms::bench
