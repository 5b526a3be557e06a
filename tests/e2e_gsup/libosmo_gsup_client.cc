#include "tests/e2e_gsup/libosmo_gsup_client.h"

#include <unistd.h>

#include <chrono>
#include <cstring>

extern "C" {
#include <osmocom/core/application.h>
#include <osmocom/core/logging.h>
#include <osmocom/core/msgb.h>
#include <osmocom/core/select.h>
#include <osmocom/core/talloc.h>
#include <osmocom/gsm/gsup.h>
#include <osmocom/gsm/ipa.h>
#include <osmocom/gsupclient/gsup_client.h>
}

namespace simkms::e2e {

struct OsmoGsupClient::State {
  void* ctx = nullptr;
  osmo_gsup_client* client = nullptr;
  bool up = false;
  std::optional<OsmoSaiAnswer> answer;
  std::string decode_error;
};

namespace {

// libosmocore's logging must be initialised once before its libraries log; quiet.
void InitLoggingOnce() {
  static const bool done = [] {
    static const log_info kInfo = {};
    if (osmo_init_logging2(nullptr, &kInfo) == 0 && osmo_stderr_target) {
      log_set_log_level(osmo_stderr_target, LOGL_FATAL);
    }
    return true;
  }();
  (void)done;
}

bool UpDown(osmo_gsup_client* client, bool up) {
  static_cast<OsmoGsupClient::State*>(client->data)->up = up;
  return true;
}

// libosmo-gsup-client hands over the GSUP message (l2) and expects us to free it.
int Read(osmo_gsup_client* client, msgb* msg) {
  auto* state = static_cast<OsmoGsupClient::State*>(client->data);
  osmo_gsup_message decoded{};
  const int rc = osmo_gsup_decode(static_cast<const uint8_t*>(msgb_l2(msg)), msgb_l2len(msg), &decoded);
  if (rc < 0) {
    state->decode_error = "osmo_gsup_decode: " + std::to_string(rc);
  } else {
    OsmoSaiAnswer a;
    a.message_type = static_cast<uint8_t>(decoded.message_type);
    a.imsi = decoded.imsi;
    a.cause = static_cast<uint8_t>(decoded.cause);
    for (std::size_t i = 0; i < decoded.num_auth_vectors; ++i) {
      const osmo_auth_vector& v = decoded.auth_vectors[i];
      gsup::AuthTuple t;
      std::memcpy(t.rand.data(), v.rand, 16);
      std::memcpy(t.autn.data(), v.autn, 16);
      std::memcpy(t.ck.data(), v.ck, 16);
      std::memcpy(t.ik.data(), v.ik, 16);
      std::memcpy(t.kc.data(), v.kc, 8);
      std::memcpy(t.sres.data(), v.sres, 4);
      t.res.assign(v.res, v.res + v.res_len);
      a.tuples.push_back(std::move(t));
    }
    state->answer = std::move(a);
  }
  msgb_free(msg);
  return 0;
}

// Polls libosmocore's select loop until `done` or the deadline.
template <typename Done>
bool PollUntil(int timeout_ms, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (osmo_select_main(/*polling=*/1) <= 0) usleep(1000);
  }
  return true;
}

}  // namespace

OsmoGsupClient::OsmoGsupClient(std::unique_ptr<State> state) : state_(std::move(state)) {}

OsmoGsupClient::~OsmoGsupClient() {
  if (state_->client) osmo_gsup_client_destroy(state_->client);
  talloc_free(state_->ctx);
}

StatusOr<std::unique_ptr<OsmoGsupClient>> OsmoGsupClient::Connect(uint16_t port, const std::string& serial,
                                                                  int timeout_ms) {
  InitLoggingOnce();
  auto state = std::make_unique<State>();
  state->ctx = talloc_named_const(nullptr, 0, "simkms-e2e-gsup");
  auto* unit = talloc_zero(state->ctx, struct ipaccess_unit);
  unit->unit_name = talloc_strdup(unit, "SIMKMS-E2E");
  unit->serno = talloc_strdup(unit, serial.c_str());
  osmo_gsup_client_config config{};
  config.ipa_dev = unit;
  config.ip_addr = "127.0.0.1";
  config.tcp_port = port;
  config.read_cb = Read;
  config.up_down_cb = UpDown;
  config.data = state.get();
  state->client = osmo_gsup_client_create3(state->ctx, &config);
  std::unique_ptr<OsmoGsupClient> client(new OsmoGsupClient(std::move(state)));
  if (!client->state_->client) return UnavailableError("osmo_gsup_client_create3 failed");
  State* s = client->state_.get();
  if (!PollUntil(timeout_ms, [s] { return s->up; })) return UnavailableError("GSUP link did not come up");
  // The server's ID_GET and the library's ID_RESP cross right after connect;
  // kmsd (like osmo-hlr) does not answer GSUP from an unidentified peer.
  PollUntil(200, [] { return false; });
  return client;
}

StatusOr<OsmoSaiAnswer> OsmoGsupClient::SendAuthInfo(const std::string& imsi, std::optional<uint8_t> num_vectors,
                                                     int timeout_ms) {
  osmo_gsup_message request{};
  request.message_type = OSMO_GSUP_MSGT_SEND_AUTH_INFO_REQUEST;
  if (imsi.size() >= sizeof request.imsi) return InvalidArgumentError("IMSI too long");
  std::memcpy(request.imsi, imsi.c_str(), imsi.size() + 1);
  request.cn_domain = OSMO_GSUP_CN_DOMAIN_CS;
  request.message_class = OSMO_GSUP_MESSAGE_CLASS_SUBSCRIBER_MANAGEMENT;
  request.num_auth_vectors = num_vectors.value_or(0);  // NUM_VECTORS_REQ in a request
  state_->answer.reset();
  state_->decode_error.clear();
  if (osmo_gsup_client_enc_send(state_->client, &request) != 0) return UnavailableError("enc_send failed");
  State* s = state_.get();
  if (!PollUntil(timeout_ms, [s] { return s->answer.has_value() || !s->decode_error.empty(); })) {
    return UnavailableError("no GSUP answer");
  }
  if (!s->decode_error.empty()) return InvalidArgumentError(s->decode_error);
  return std::move(*s->answer);
}

}  // namespace simkms::e2e
