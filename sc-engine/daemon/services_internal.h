// What kmsd's listeners share: the configuration, metrics, the crypto pool and
// the engines. Owned by the Daemon; listeners hold a reference. Listeners parse
// and serialize; the engine services (sc-engine/engine/) do the work and are the
// only ones that hold the store.
#pragma once

#include <atomic>

#include "kms/ki2_vault.h"
#include "kms/token_keys.h"
#include "sc-engine/daemon/config.h"
#include "sc-engine/daemon/crypto_pool.h"
#include "sc-engine/daemon/graceful_stop.h"
#include "sc-engine/daemon/metrics.h"
#include "sc-engine/daemon/record_alarm_internal.h"
#include "sc-engine/engine/auc_service.h"
#include "sc-engine/engine/chip_channel.h"
#include "sc-engine/engine/health_service.h"
#include "sc-engine/engine/hlr_service.h"
#include "sc-engine/engine/subscriber_registry.h"
#include "storage/store.h"

namespace simkms::sc {
class AdminCommands;
}

namespace simkms::daemon {

class HealthCheck;

// The latest token check (kms/token_policy.h): made at start, where a violation
// stops kmsd, and again on every /healthz, which a PIN holder's later change fails.
struct TokenPolicyStatus {
  std::atomic<uint64_t> objects{0};
  std::atomic<uint64_t> violations{0};
};

struct Services {
  const Config& config;
  Metrics& metrics;
  CryptoPool& crypto;
  sc::ChipChannel& chip_channel;
  sc::AucService& auc;
  sc::HlrService& hlr;  // the GSUP listener's location management (docs/gsup.md §10)
  sc::RegistryService& registries;  // the operator API's
  sc::HealthService& health;        // /metrics and the record alarm's audit record
  HealthCheck& health_check;        // /healthz, bounded in time
  RecordAlarm& record_alarm;
  GracefulStop& graceful_stop;
  TokenPolicyStatus& token_policy;
  const sc::AdminCommands& admin_commands;  // the admin socket's commands
};

}  // namespace simkms::daemon
