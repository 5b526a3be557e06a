#include "sc-engine/daemon/gsup_server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <optional>

#include "base/wiped_buffer.h"
#include "sc-engine/gsup/check_imei.h"
#include "sc-engine/gsup/gsup.h"
#include "sc-engine/daemon/location_updates_internal.h"
#include "sc-engine/daemon/stream_session_internal.h"
#include "sc-engine/gsup/ipa.h"
#include "sc-engine/gsup/location.h"
#include "storage/record_mac.h"

namespace simkms::daemon {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

// libosmocore's IPA receiver takes at most 1200 bytes per frame, header
// included; osmo-hlr closes a connection that announces more. A SAI request is
// under 100 bytes, so nothing legitimate comes near it.
constexpr std::size_t kMaxFramePayload = 1200 - gsup::kIpaHeaderSize;
// Answers owed per connection (crypto jobs queued or running); reading pauses at this.
constexpr std::size_t kMaxPendingAnswers = 32;
// Bytes queued but not yet sent (a peer that pings and never reads): closed
// beyond this. Far above a burst of pipelined answers (a 4 KiB read holds at
// most ~200 SAI requests, ~100 KiB of 5-vector results).
constexpr std::size_t kMaxQueuedBytes = 1 << 20;
// Location updates of one connection waiting for their INSERT_DATA answer: an
// MSC/SGSN has a few in flight at once; beyond this one is refused at once
// (UPDATE_LOCATION_ERROR, network failure) rather than held.
constexpr std::size_t kMaxPendingLocationUpdates = 1024;

const char kRequests[] = "simkms_gsup_requests_total";

class GsupConnection : public StreamSession<GsupConnection, tcp::socket> {
 public:
  GsupConnection(tcp::socket socket, ConnectionSlot slot, Services& services, std::shared_ptr<GsupPeerGate> gate)
      : StreamSession(std::move(socket), std::move(slot),
                      // No TLS: GSUP peers do not speak it, and the auc listener refuses it.
                      {services.metrics, "simkms_gsup_connections_closed_total", kMaxQueuedBytes, {},
                       services.graceful_stop}),
        services_(services),
        gate_(std::move(gate)),
        accepted_(std::chrono::steady_clock::now()),
        location_updates_(stream_.get_executor(),
                          std::chrono::milliseconds(services.config.gsup_location_update_timeout_ms),
                          kMaxPendingLocationUpdates) {
    boost::system::error_code ec;
    const tcp::endpoint remote = stream_.remote_endpoint(ec);
    if (!ec) address_ = remote.address().to_string();
  }

  void Start() {
    JoinGracefulStop();
    // A source outside every listed prefix gets nothing, not even ID_GET.
    if (!services_.config.gsup_allow_any_peer && !gate_->AdmitsAddress(address_)) return Refuse("");
    Write(gsup::EncodeIdGet());  // what osmo-hlr sends right after accept()
    ReadMore();
  }

 private:
  // Absolute deadlines, never moved by a byte arriving: the ID_RESP within
  // gsup.identify_timeout_ms of accept(); once identified, each frame within
  // gsup.frame_timeout_ms of its first byte; between frames an identified
  // peer may be silent up to gsup.idle_timeout_ms (it pings every 20 s).
  void ArmTimer() {
    using std::chrono::milliseconds;
    const Config& config = services_.config;
    const char* reason;
    SteadyTime deadline;
    if (!peer_) {
      reason = "identify_timeout";
      deadline = accepted_ + milliseconds(config.gsup_identify_timeout_ms);
    } else if (frame_started_) {
      reason = "frame_timeout";
      deadline = *frame_started_ + milliseconds(config.gsup_frame_timeout_ms);
    } else {
      reason = "idle_timeout";
      deadline = std::chrono::steady_clock::now() + milliseconds(config.gsup_idle_timeout_ms);
    }
    timer_.expires_at(deadline);
    timer_.async_wait([weak = weak_from_this(), reason](auto ec) {
      if (ec) return;
      auto self = weak.lock();
      if (!self || self->closed()) return;
      if (!self->answers_.empty() && self->peer_ && !self->frame_started_) {
        return self->ArmTimer();  // idle only because we are still working for the peer
      }
      self->Close(reason);
    });
  }

  // Closes a peer the allowlist does not admit; audited (rate-limited) and counted.
  void Refuse(const std::string& ipa_name) {
    services_.metrics.Count("simkms_gsup_peers_refused_total", "stage", peer_claimed_ ? "identity" : "address");
    if (gate_->ShouldAuditRefusal(address_, ipa_name)) {
      services_.crypto.Post([self = shared_from_this(), address = address_, ipa_name,
                             named = peer_claimed_](p11::Session&) {
        if (!self->services_.auc.RecordPeerRefused(address, ipa_name, named).ok()) {
          self->services_.metrics.Count("simkms_gsup_peers_refused_total", "stage", "audit_failed");
        }
      });
    }
    Close("peer_refused");
  }

  void ReadMore() {
    // Not while OnBytes parses buffer_: Asio may read speculatively into it at once.
    if (closed() || reading_ || parsing_ || answers_.size() >= kMaxPendingAnswers ||
        services_.graceful_stop.stopping()) {
      return;
    }
    reading_ = true;
    ArmTimer();
    stream_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](auto ec, std::size_t n) {
      self->reading_ = false;
      if (self->closed()) return;
      if (ec) return self->Close(ec == asio::error::eof ? "peer_closed" : "read_error");
      if (self->services_.graceful_stop.stopping()) return;  // read after the stop began: not taken on
      self->OnBytes(n);
    });
  }

  void OnBytes(std::size_t n) {
    ByteView input(buffer_.data(), n);
    parsing_ = true;
    while (!input.empty() && !closed()) {
      auto consumed = decoder_.Feed(input);
      if (!consumed.ok()) {
        parsing_ = false;
        return Close(consumed.status().code() == StatusCode::kResourceExhausted ? "oversize_frame" : "bad_frame");
      }
      input = input.subspan(*consumed);
      if (auto frame = decoder_.Pop()) {
        frame_started_.reset();
        OnFrame(*frame);
      }
    }
    // A partial frame left: its deadline runs from the chunk that began it.
    if (!decoder_.idle() && !frame_started_) frame_started_ = std::chrono::steady_clock::now();
    parsing_ = false;
    ReadMore();
  }

  void OnFrame(const gsup::IpaFrame& frame) {
    if (frame.payload.size() > kMaxFramePayload) return Close("oversize_frame");
    auto classified = gsup::ClassifyFrame(frame);
    if (!classified.ok()) return services_.metrics.Count(kRequests, "outcome", "undecodable");
    using Kind = gsup::Classified::Kind;
    switch (classified->kind) {
      case Kind::kPing:
        return Write(gsup::EncodePong());
      case Kind::kIdAck:  // libosmocore's CCM handler acknowledges an ID_ACK with one
        return Write(gsup::EncodeIdAck());
      case Kind::kIdResp:
        return OnIdResp(classified->body);
      case Kind::kGsup:
        return OnGsup(classified->body);
      default:  // PONG, ID_GET, other CCM, OAP or other extensions, other streams: nothing to do
        return;
    }
  }

  void OnIdResp(ByteView body) {
    auto id = gsup::ParseIdResp(body);
    if (!id.ok()) return Close("bad_identity");  // what osmo-hlr drops too
    if (peer_ && *peer_ != *id) return Close("identity_changed");
    if (!peer_ && !services_.config.gsup_allow_any_peer && !gate_->Admits(address_, id->serial)) {
      peer_claimed_ = true;
      return Refuse(id->serial);
    }
    if (!peer_) services_.metrics.Count("simkms_gsup_peers_identified_total", "serial_empty",
                                        id->serial.empty() ? "yes" : "no");
    peer_ = *id;
  }

  void OnGsup(ByteView body) {
    const SteadyTime started = std::chrono::steady_clock::now();
    // osmo-hlr processes GSUP from an unidentified peer (spending SQNs) but cannot
    // answer it; this AuC does nothing for it.
    if (!peer_) return services_.metrics.Count(kRequests, "outcome", "unidentified");
    auto request = gsup::Decode(body);
    if (!request.ok()) {
      if (auto answer = gsup::InvalidImsiAnswer(body)) {
        services_.metrics.Count(kRequests, "outcome", "invalid_imsi");
        return Answer(Reserve(), std::move(*answer), started);
      }
      return services_.metrics.Count(kRequests, "outcome", "undecodable");  // osmo-hlr: no answer, connection kept
    }
    if (request->destination_name && !AddressedToUs(*request->destination_name)) {
      // osmo-hlr forwards such a request to the named peer, or answers
      // ROUTING_ERROR; this AuC routes nothing and spends nothing on it.
      if (!gsup::IsRequest(request->type)) return services_.metrics.Count(kRequests, "outcome", "misrouted");
      services_.metrics.Count(kRequests, "outcome", "routing_error");
      auto error = gsup::MakeRoutingError(*request);
      auto encoded = error.ok() ? gsup::Encode(*error) : StatusOr<Bytes>(error.status());
      if (encoded.ok()) Answer(Reserve(), std::move(*encoded), started);
      return;
    }
    switch (request->type) {
      case gsup::MessageType::kSendAuthInfoRequest:
        return SendAuthInfo(std::move(*request), started);
      case gsup::MessageType::kAuthFailReport:
        return AuthFailReport(std::move(*request));
      case gsup::MessageType::kUpdateLocationRequest:
        return UpdateLocation(std::move(*request), started);
      case gsup::MessageType::kInsertDataResult:
      case gsup::MessageType::kInsertDataError:
        return InsertDataAnswered(*request, started);
      case gsup::MessageType::kPurgeMsRequest:
        return PurgeMs(std::move(*request), started);
      case gsup::MessageType::kCheckImeiRequest:
        return CheckImei(std::move(*request), started);
      default:
        break;
    }
    if (!gsup::IsRequest(request->type)) {
      return services_.metrics.Count(kRequests, "outcome", "ignored");  // a result or error: nothing was asked
    }
    // SS, SMS, ...: neither an AuC's nor this HLR's business (docs/gsup.md §8.4).
    services_.metrics.Count(kRequests, "outcome", "unsupported");
    auto error = gsup::MakeError(*request, gsup::GmmCause::kMessageTypeNotImplemented);
    auto encoded = error.ok() ? gsup::Encode(*error) : StatusOr<Bytes>(error.status());
    if (encoded.ok()) Answer(Reserve(), std::move(*encoded), started);
  }

  // DESTINATION_NAME names this AuC: gsup.ipa_name followed by one NUL, as osmo-msc
  // writes names and as osmo-hlr compares them (the same name without its NUL is
  // another name to osmo-hlr, which answers it ROUTING_ERROR: so do we).
  bool AddressedToUs(const Bytes& destination) const {
    const std::string& ours = services_.config.gsup_ipa_name;
    return destination.size() == ours.size() + 1 && destination.back() == 0 &&
           std::equal(ours.begin(), ours.end(), destination.begin());
  }

  std::string PeerName(const gsup::Message& request) const {
    if (request.source_name && !request.source_name->empty()) {
      const Bytes& s = *request.source_name;
      return std::string(s.begin(), s.back() == 0 ? s.end() - 1 : s.end());  // osmo-msc sends the NUL
    }
    return peer_ ? peer_->serial : std::string();
  }

  // The crypto worker computes the vectors and hands the SQN to the store's
  // group commit without waiting; the store's writer thread posts the outcome
  // back to this strand once the SQN is durable, and the answer takes its
  // slot. So a worker never waits for the disk, every request of a connection
  // is on a worker as soon as it is read, and only the sending keeps the order.
  void SendAuthInfo(gsup::Message request, SteadyTime started) {
    const uint64_t slot = Reserve();
    if (request.auts.has_value() != request.rand.has_value()) {
      // AUTS without the RAND it answers, or the reverse: nothing to compute. osmo-hlr
      // answers network failure (its vector computation refuses the pair).
      services_.metrics.Count(kRequests, "outcome", "invalid_resync");
      return Answer(slot, EncodeError(request, gsup::GmmCause::kNetworkFailure), started);
    }
    sc::AuthInfoRequest ask;
    ask.imsi = request.imsi;
    ask.num_vectors = static_cast<unsigned>(gsup::VectorsToGenerate(request));
    ask.ind = GsupPeerInd(services_.config, PeerName(request));
    if (request.auts) ask.auts = *request.auts;
    if (request.rand) ask.auts_rand = *request.rand;
    ask.eutran = request.current_rat_type == gsup::kRatEutranSgs;
    auto shared_request = std::make_shared<const gsup::Message>(std::move(request));
    services_.crypto.Post([self = shared_from_this(), shared_request, ask = std::move(ask), slot,
                           started](p11::Session& session) mutable {
      const bool resync = ask.auts.has_value();
      CryptoPool& crypto = self->services_.crypto;
      self->services_.auc.SendAuthInfoAsync(
          session, std::move(ask), [&crypto](sc::AucService::Job job) { crypto.Post(std::move(job)); },
          [self, shared_request, slot, started, resync](StatusOr<sc::AucService::Vectors> vectors) {
            // Wiped whether or not the strand runs the handler (a stopping io_context drops it).
            auto held = std::make_shared<HeldVectors>(
                vectors.ok() ? HeldVectors(WipedBuffer<sc::AucService::Vectors>(std::move(*vectors)))
                             : HeldVectors(vectors.status()));
            asio::post(self->stream_.get_executor(), [self, shared_request, slot, started, resync, held] {
              std::string outcome;
              std::size_t served = 0;
              Bytes answer = self->EncodeAnswer(*shared_request, *held, resync, outcome, served);
              self->services_.metrics.Count(kRequests, "outcome", outcome);
              if (served > 0) {
                self->services_.metrics.Add("simkms_gsup_vectors_total", "request", resync ? "resync" : "sai",
                                            served);
              }
              self->Answer(slot, std::move(answer), started);
            });
          });
    });
  }

  // The vectors a request's answer is made of, wiped when the last holder lets go.
  using HeldVectors = StatusOr<WipedBuffer<sc::AucService::Vectors>>;

  // On the strand, once the SQN is durable (or the request failed): the result
  // with the vectors (their tuples wiped on return, the vectors when `held`
  // goes), or the error osmo-hlr would give. Empty bytes: no answer.
  Bytes EncodeAnswer(const gsup::Message& request, const HeldVectors& vectors, bool resync,
                     std::string& outcome, std::size_t& served) {
    if (!vectors.ok()) {
      if (!storage::IsRecordNotAuthentic(vectors.status())) {
        switch (vectors.status().code()) {
          case StatusCode::kFailedPrecondition:  // LOCKED: osmo-hlr's "IMSI known but no auth data"
            outcome = "no_usable_key";
            return EncodeError(request, gsup::GmmCause::kImsiUnknown);
          case StatusCode::kUnauthenticated:  // an AUTS whose MAC-S does not verify: osmo-hlr's cause
            outcome = "auts_invalid";
            return EncodeError(request, gsup::GmmCause::kImsiUnknown);
          default:
            break;
        }
      }
      return EncodeError(request, SubscriberErrorCause(vectors.status(), request.imsi, "auc", outcome));
    }
    std::vector<gsup::AuthTuple> tuples;
    for (const kms::AuthVector& v : vectors->get()) {
      gsup::AuthTuple t;
      t.rand = v.rand;
      t.sres = v.sres;
      t.kc = v.kc;
      t.ik = v.ik;
      t.ck = v.ck;
      t.autn = v.autn;
      t.res.assign(v.xres.begin(), v.xres.end());
      tuples.push_back(std::move(t));
    }
    served = tuples.size();
    auto result = gsup::MakeResult(request, std::move(tuples));
    StatusOr<Bytes> encoded = result.ok() ? gsup::Encode(*result) : StatusOr<Bytes>(result.status());
    if (!encoded.ok()) {
      served = 0;
      outcome = "error_encode";
      return EncodeError(request, gsup::GmmCause::kNetworkFailure);
    }
    outcome = resync ? "resync" : "vectors";
    return std::move(*encoded);
  }

  // The cause for a request that failed on the subscriber's record, as osmo-hlr
  // answers a DB failure or an unknown IMSI: NotFound (misuse 1.1: not
  // contracted, or no such IMSI) is `unknown` (0x02 but for CHECK_IMEI); a record
  // that fails its MAC (alarm raised, `role` naming who asked) and any other error 0x11.
  gsup::GmmCause SubscriberErrorCause(const Status& status, const std::string& imsi, const char* role,
                                      std::string& outcome,
                                      gsup::GmmCause unknown = gsup::GmmCause::kImsiUnknown) {
    const std::string peer = peer_ ? peer_->serial : std::string();
    if (services_.record_alarm.Raise(status, imsi, std::string(role) + " " + peer)) {
      outcome = "record_not_authentic";
      return gsup::GmmCause::kNetworkFailure;
    }
    if (status.code() == StatusCode::kNotFound) {
      outcome = "imsi_unknown";
      return unknown;
    }
    outcome = "error_" + std::string(StatusCodeName(status.code()));
    return gsup::GmmCause::kNetworkFailure;
  }

  // ---- The HLR role (docs/gsup.md §10), as osmo-hlr 1.5's lu_fsm.c, rx_purge_ms_req and rx_check_imei_req.

  // The VLR/SGSN's name as osmo-hlr records it: the request's SOURCE_NAME, else
  // the connection's IPA serial; and the proxy it came through (the
  // connection's serial) when the SOURCE_NAME names another peer.
  std::pair<std::string, std::string> LocationPeer(const gsup::Message& request) const {
    std::string peer = PeerName(request);
    const std::string serial = peer_ ? peer_->serial : std::string();
    return {peer, peer != serial ? serial : std::string()};
  }

  static sc::CnDomain Domain(const gsup::Message& request) {
    return gsup::IsPacketSwitched(request) ? sc::CnDomain::kPs : sc::CnDomain::kCs;
  }

  // UPDATE_LOCATION_REQUEST: the subscriber must have a contract (else 0x02);
  // its location is recorded, then INSERT_DATA_REQUEST (MSISDN; for PS the
  // wildcard APN) goes out and the update waits for the answer.
  void UpdateLocation(gsup::Message request, SteadyTime started) {
    const uint64_t slot = Reserve();
    auto shared_request = std::make_shared<const gsup::Message>(std::move(request));
    auto [peer, via_proxy] = LocationPeer(*shared_request);
    services_.crypto.Post([self = shared_from_this(), shared_request, slot, started, peer = std::move(peer),
                           via_proxy = std::move(via_proxy)](p11::Session&) {
      auto msisdn = self->services_.hlr.UpdateLocation(shared_request->imsi, Domain(*shared_request), peer, via_proxy);
      asio::post(self->stream_.get_executor(), [self, shared_request, slot, started, msisdn = std::move(msisdn)] {
        self->SendInsertData(shared_request, msisdn, slot, started);
      });
    });
  }

  void SendInsertData(const std::shared_ptr<const gsup::Message>& update_location, const StatusOr<std::string>& msisdn,
                      uint64_t slot, SteadyTime started) {
    std::string outcome;
    if (!msisdn.ok()) {
      const gsup::GmmCause cause = SubscriberErrorCause(msisdn.status(), update_location->imsi, "hlr", outcome);
      services_.metrics.Count(kRequests, "outcome", "update_location_" + outcome);
      return Answer(slot, EncodeError(*update_location, cause), started);
    }
    auto insert_data = gsup::MakeInsertDataRequest(*update_location, *msisdn);
    auto encoded = insert_data.ok() ? gsup::Encode(*insert_data) : StatusOr<Bytes>(insert_data.status());
    if (!encoded.ok()) {
      services_.metrics.Count(kRequests, "outcome", "update_location_error_encode");
      return Answer(slot, EncodeError(*update_location, gsup::GmmCause::kNetworkFailure), started);
    }
    const bool waiting = location_updates_.Add(update_location, [weak = weak_from_this()](auto expired) {
      auto self = weak.lock();
      if (!self || self->closed()) return;
      // osmo-hlr's lu_fsm_timer_cb: network failure.
      self->services_.metrics.Count(kRequests, "outcome", "update_location_timeout");
      self->Answer(self->Reserve(), EncodeError(*expired, gsup::GmmCause::kNetworkFailure),
                   std::chrono::steady_clock::now());
    });
    if (!waiting) {
      services_.metrics.Count(kRequests, "outcome", "update_location_too_many_pending");
      return Answer(slot, EncodeError(*update_location, gsup::GmmCause::kNetworkFailure), started);
    }
    services_.metrics.Count(kRequests, "outcome", "update_location_insert_data");
    Answer(slot, std::move(*encoded), started);
  }

  // INSERT_DATA_RESULT concludes the newest location update waiting for that
  // IMSI with UPDATE_LOCATION_RESULT; INSERT_DATA_ERROR with
  // UPDATE_LOCATION_ERROR, network failure (osmo-hlr's). Neither is a request:
  // one that concludes nothing is not answered (osmo-hlr's "No Location
  // Updating in progress" error reply is dropped for a non-request too).
  void InsertDataAnswered(const gsup::Message& answer, SteadyTime started) {
    auto update_location = location_updates_.Take(answer.imsi);
    if (!update_location) return services_.metrics.Count(kRequests, "outcome", "insert_data_unexpected");
    if (answer.type == gsup::MessageType::kInsertDataError) {
      services_.metrics.Count(kRequests, "outcome", "update_location_insert_data_error");
      return Answer(Reserve(), EncodeError(*update_location, gsup::GmmCause::kNetworkFailure), started);
    }
    auto result = gsup::MakeResponse(*update_location, gsup::MessageType::kUpdateLocationResult, true);
    auto encoded = result.ok() ? gsup::Encode(*result) : StatusOr<Bytes>(result.status());
    services_.metrics.Count(kRequests, "outcome", encoded.ok() ? "update_location_result" : "update_location_error_encode");
    Answer(Reserve(), encoded.ok() ? std::move(*encoded) : EncodeError(*update_location, gsup::GmmCause::kNetworkFailure),
           started);
  }

  // PURGE_MS_REQUEST: the domain's location marked purged, its VLR/SGSN name
  // kept; PURGE_MS_RESULT with the IMSI alone, or 0x02 without a contract.
  void PurgeMs(gsup::Message request, SteadyTime started) {
    AnswerFromRecord(
        std::move(request), started, "purge_ms_", "purged", gsup::GmmCause::kImsiUnknown,
        [](sc::HlrService& hlr, const gsup::Message& r) { return hlr.PurgeMs(r.imsi, Domain(r)); },
        [](const gsup::Message& r) { return gsup::MakeResponse(r, gsup::MessageType::kPurgeMsResult, true); });
  }

  // CHECK_IMEI_REQUEST, as osmo-hlr 1.5's rx_check_imei_req with store-imei off:
  // an IMEI IE missing or not read as 14 digits is answered 0x60 without a
  // lookup; then the subscriber must have a record, else 0x60 too (osmo-hlr's
  // "IMSI unknown" there is not 0x02); then CHECK_IMEI_RESULT, IMEI_RESULT ACK.
  // The IMEI is neither kept nor logged (docs/gsup.md §10.4).
  void CheckImei(gsup::Message request, SteadyTime started) {
    if (!request.imei || !gsup::DecodeImeiIe(*request.imei).ok()) {
      services_.metrics.Count(kRequests, "outcome", request.imei ? "check_imei_invalid_imei" : "check_imei_no_imei");
      return Answer(Reserve(), EncodeError(request, gsup::GmmCause::kInvalidMandatoryInfo), started);
    }
    AnswerFromRecord(
        std::move(request), started, "check_imei_", "ack", gsup::GmmCause::kInvalidMandatoryInfo,
        [](sc::HlrService& hlr, const gsup::Message& r) { return hlr.CheckImei(r.imsi); },
        [](const gsup::Message& r) { return gsup::MakeCheckImeiResult(r); });
  }

  // An HLR request answered from the subscriber's record alone (PURGE_MS,
  // CHECK_IMEI). `look_up` runs on a crypto worker (a store read may block);
  // OK answers `make_result(request)`, counted `metric` + `ok_outcome`; an
  // error the request's ERROR with SubscriberErrorCause (`unknown` for
  // NotFound); a result that cannot be built or encoded, network failure.
  template <typename LookUp, typename MakeResult>
  void AnswerFromRecord(gsup::Message request, SteadyTime started, std::string metric, std::string ok_outcome,
                        gsup::GmmCause unknown, LookUp look_up, MakeResult make_result) {
    const uint64_t slot = Reserve();
    auto shared_request = std::make_shared<const gsup::Message>(std::move(request));
    services_.crypto.Post([self = shared_from_this(), shared_request, slot, started, metric = std::move(metric),
                           ok_outcome = std::move(ok_outcome), unknown, look_up, make_result](p11::Session&) {
      Status found = look_up(self->services_.hlr, *shared_request);
      asio::post(self->stream_.get_executor(), [self, shared_request, slot, started, metric, ok_outcome, unknown,
                                                make_result, found = std::move(found)] {
        std::string outcome = ok_outcome;
        Bytes answer;
        if (found.ok()) {
          StatusOr<gsup::Message> result = make_result(*shared_request);
          auto encoded = result.ok() ? gsup::Encode(*result) : StatusOr<Bytes>(result.status());
          if (encoded.ok()) answer = std::move(*encoded);
          else outcome = "error_encode";
        }
        if (answer.empty()) {
          const gsup::GmmCause cause =
              found.ok() ? gsup::GmmCause::kNetworkFailure
                         : self->SubscriberErrorCause(found, shared_request->imsi, "hlr", outcome, unknown);
          answer = EncodeError(*shared_request, cause);
        }
        self->services_.metrics.Count(kRequests, "outcome", metric + outcome);
        self->Answer(slot, std::move(answer), started);
      });
    });
  }

  static Bytes EncodeError(const gsup::Message& request, gsup::GmmCause cause) {
    auto error = gsup::MakeError(request, cause);
    if (!error.ok()) return {};
    auto encoded = gsup::Encode(*error);
    return encoded.ok() ? std::move(*encoded) : Bytes{};
  }

  // The network reports that a subscriber failed authentication: audited by the
  // AuC (AucService::RecordAuthFailReport); no answer (not a request type).
  void AuthFailReport(gsup::Message report) {
    const std::string peer = peer_ ? peer_->serial : std::string();
    const uint64_t slot = Reserve();  // keeps the read pause and order accounting simple; answers nothing
    services_.crypto.Post([self = shared_from_this(), imsi = report.imsi, peer, slot](p11::Session&) {
      const Status recorded = self->services_.auc.RecordAuthFailReport(imsi, peer);
      const std::string outcome = recorded.ok()                                ? "auth_fail_report"
                                  : recorded.code() == StatusCode::kNotFound ? "auth_fail_report_imsi_unknown"
                                                                             : "auth_fail_report_error";
      asio::post(self->stream_.get_executor(), [self, slot, outcome] {
        self->services_.metrics.Count(kRequests, "outcome", outcome);
        self->Fulfil(slot, Bytes{});
      });
    });
  }

  // Answers leave in request order (SAI has no transaction id: a client matches
  // them by IMSI only), whatever order the crypto workers finish in.
  uint64_t Reserve() {
    OweReply();
    answers_.emplace_back();
    return first_slot_ + answers_.size() - 1;
  }

  void Answer(uint64_t slot, Bytes bytes, SteadyTime started) {
    services_.metrics.Observe("simkms_gsup_request_seconds",
                              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    Fulfil(slot, std::move(bytes));
  }

  void Fulfil(uint64_t slot, Bytes gsup_message) {
    answers_[slot - first_slot_] = std::move(gsup_message);
    while (!answers_.empty() && answers_.front().has_value()) {
      Bytes message = std::move(*answers_.front());
      WipeOnExit wipe_message(message);
      answers_.pop_front();
      ++first_slot_;
      if (!message.empty()) {
        auto frame = gsup::EncodeGsupFrame(message);
        if (frame.ok()) Write(std::move(*frame));
      }
      ReplyDone();
    }
    ReadMore();
  }

  Services& services_;
  std::shared_ptr<GsupPeerGate> gate_;
  const SteadyTime accepted_;
  std::string address_;  // the peer's source address
  gsup::IpaDecoder decoder_;
  std::optional<gsup::IpaIdentity> peer_;
  bool peer_claimed_ = false;           // an ID_RESP was received (refusal by name, not address)
  std::optional<SteadyTime> frame_started_;  // first byte of the partial frame being read
  std::array<uint8_t, 4096> buffer_{};
  std::deque<std::optional<Bytes>> answers_;  // slot first_slot_ + i; nullopt while being computed
  uint64_t first_slot_ = 0;
  bool reading_ = false;
  bool parsing_ = false;  // OnBytes is walking buffer_
  PendingLocationUpdates location_updates_;  // after the stream: its timers run on the stream's executor
};

}  // namespace

uint8_t GsupPeerInd(const Config& config, const std::string& peer_name) {
  if (auto it = config.gsup_ind.find(peer_name); it != config.gsup_ind.end()) {
    return static_cast<uint8_t>(it->second & 31u);
  }
  // Within this node's slice (CheckSafety: first <= last <= 31): an empty name
  // its first IND, others the rest by hash (the whole 0..31: 0, and 1..31 by hash).
  const unsigned first = config.gsup_ind_first;
  const unsigned rest = config.gsup_ind_last - first;
  if (peer_name.empty() || rest == 0) return static_cast<uint8_t>(first);
  uint32_t h = 2166136261u;  // FNV-1a: stable across builds and restarts, unlike std::hash
  for (unsigned char c : peer_name) {
    h ^= c;
    h *= 16777619u;
  }
  return static_cast<uint8_t>(first + 1 + h % rest);
}

bool GsupPeerGate::AdmitsAddress(const std::string& address) const { return allowlist_.AdmitsAddress(address); }

bool GsupPeerGate::Admits(const std::string& address, const std::string& ipa_name) const {
  return allowlist_.Admits(address, ipa_name);
}

bool GsupPeerGate::ShouldAuditRefusal(const std::string& address, const std::string& ipa_name) {
  const auto now = std::chrono::steady_clock::now();
  const auto interval = std::chrono::seconds(config_.gsup_refusal_audit_interval_s);
  std::lock_guard lock(mutex_);
  if (last_audited_.size() >= kMaxTracked) {
    std::erase_if(last_audited_, [&](const auto& entry) { return now - entry.second >= interval; });
  }
  auto key = std::make_pair(address, ipa_name);
  auto it = last_audited_.find(key);
  if (it != last_audited_.end()) {
    if (now - it->second < interval) return false;
    it->second = now;
    return true;
  }
  if (last_audited_.size() >= kMaxTracked) return false;  // a flood of distinct names: counted, not audited
  last_audited_.emplace(std::move(key), now);
  return true;
}

StatusOr<std::unique_ptr<TcpListener>> StartGsupListener(asio::io_context& io, const ListenerConfig& listener,
                                                         Services& services) {
  if (listener.tls) return InvalidArgumentError("the auc listener cannot use TLS: GSUP clients do not speak it");
  SIMKMS_ASSIGN_OR_RETURN(GsupPeerAllowlist allowlist, GsupPeerAllowlist::Create(services.config.gsup_peers));
  if (services.config.gsup_peers.empty() && !services.config.gsup_allow_any_peer) {
    return FailedPreconditionError("the auc listener has no gsup.peers and gsup.allow_any_peer is not set");
  }
  auto gate = std::make_shared<GsupPeerGate>(services.config, std::move(allowlist));
  return StartTcpListener(io, listener, services.metrics, [gate, &services](tcp::socket socket, ConnectionSlot slot) {
    if (services.graceful_stop.stopping()) return;
    services.metrics.Count("simkms_gsup_connections_total", "listener", "auc");
    std::make_shared<GsupConnection>(std::move(socket), std::move(slot), services, gate)->Start();
  });
}

}  // namespace simkms::daemon
