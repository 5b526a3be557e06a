#include "sc-engine/daemon/admin_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "kms/ceremony.h"
#include "kms/registry.h"
#include "sc-engine/daemon/strict_json.h"
#include "storage/identifiers.h"

namespace simkms::daemon {
namespace {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;
using Json = nlohmann::ordered_json;

std::string Reply(const StatusOr<Json>& result) {
  Json j;
  if (result.ok()) {
    j["ok"] = true;
    j["result"] = *result;
  } else {
    j["ok"] = false;
    j["error"] = {{"code", std::string(StatusCodeName(result.status().code()))},
                  {"message", result.status().message()}};
  }
  return j.dump() + "\n";
}

Json VerJson(const storage::VerRecord& v) {
  return {{"ver", v.ver},
          {"profile", std::string(storage::KeyProfileName(v.profile))},
          {"dh_group", std::string(storage::DhGroupName(v.dh_group))},
          {"amf", ToHex(v.amf)},
          {"k1_kcv", ToHex(v.k1_kcv)},
          {"description", v.description}};
}

Json RangeJson(const storage::RangeRecord& r) {
  return {{"id", r.id},
          {"manufacturer", r.manufacturer},
          {"ver", r.ver},
          {"iccid_first", storage::FormatIccid(r.iccid_first)},
          {"imsi_first", storage::FormatImsi(r.imsi_first)},
          {"count", r.count}};
}

// An argument of type T: integers range-checked before narrowing, strings
// free of control characters (they reach the audit trail and terminals).
template <typename T>
StatusOr<T> Arg(const Json& args, const char* key) {
  if (!args.contains(key)) return InvalidArgumentError(std::string("missing argument '") + key + "'");
  const std::string what = std::string("argument '") + key + "'";
  T value{};
  SIMKMS_RETURN_IF_ERROR(FromJson(args.at(key), &value, what));
  if constexpr (std::is_same_v<T, std::string>) SIMKMS_RETURN_IF_ERROR(CheckFreeText(value, what));
  return value;
}

template <typename T>
StatusOr<T> OptionalArg(const Json& args, const char* key, T fallback) {
  if (!args.contains(key)) return fallback;
  return Arg<T>(args, key);
}

StatusOr<Json> Run(Services& s, p11::Session& session, const Json& request, const std::string& peer) {
  if (!request.is_object() || !request.contains("command") || !request["command"].is_string()) {
    return InvalidArgumentError("request must be {\"command\": ..., \"args\": {...}}");
  }
  const std::string command = request["command"];
  const Json args = request.value("args", Json::object());
  kms::Registry registry(session, s.keys, s.store, {"custodian", peer}, kms::SystemClockMs);
  if (command == "status") {
    SIMKMS_ASSIGN_OR_RETURN(kms::KeyKcvs k, kms::ReadKcvs(session, s.keys));
    SIMKMS_ASSIGN_OR_RETURN(auto head, s.store.AuditHead());
    SIMKMS_ASSIGN_OR_RETURN(uint64_t subscribers, s.store.CountKeys("subscribers"));
    // No kcv.mk: MK is on the ceremony token, which kmsd never opens.
    return Json{{"kcv.storage_kek", ToHex(k.storage_kek)},
                {"kcv.puk_key", ToHex(k.puk_encryption)},
                {"kcv.op_key", ToHex(k.op_encryption)},
                {"subscriber_records", subscribers},
                {"audit_head_seq", head.seq}};
  }
  if (command == "ver.list") {
    SIMKMS_ASSIGN_OR_RETURN(auto vers, s.store.ListVers());
    Json list = Json::array();
    for (const auto& v : vers) list.push_back(VerJson(v));
    return list;
  }
  if (command == "range.list") {
    SIMKMS_ASSIGN_OR_RETURN(auto ranges, s.store.ListRanges());
    Json list = Json::array();
    for (const auto& r : ranges) list.push_back(RangeJson(r));
    return list;
  }
  if (command == "ver.add") {
    kms::NewVer v;
    SIMKMS_ASSIGN_OR_RETURN(v.ver, Arg<uint32_t>(args, "ver"));
    SIMKMS_ASSIGN_OR_RETURN(std::string profile, OptionalArg<std::string>(args, "profile", "modern"));
    SIMKMS_ASSIGN_OR_RETURN(v.profile, kms::ParseProfile(profile));
    SIMKMS_ASSIGN_OR_RETURN(v.dh_group, OptionalArg<std::string>(args, "dh_group", "ffdhe2048"));
    SIMKMS_ASSIGN_OR_RETURN(v.description, OptionalArg<std::string>(args, "description", ""));
    SIMKMS_ASSIGN_OR_RETURN(std::string amf, OptionalArg<std::string>(args, "amf", "8000"));
    SIMKMS_ASSIGN_OR_RETURN(v.amf, FromHex(amf));
    // K1 is moved to the token by kmsctl from the ceremony token, which also
    // computed this KCV (kmsd holds no MK).
    SIMKMS_ASSIGN_OR_RETURN(std::string k1_kcv, Arg<std::string>(args, "k1_kcv"));
    SIMKMS_ASSIGN_OR_RETURN(v.k1_kcv, FromHex(k1_kcv));
    if (args.contains("op")) {
      SIMKMS_ASSIGN_OR_RETURN(std::string op_hex, Arg<std::string>(args, "op"));
      SIMKMS_ASSIGN_OR_RETURN(Bytes op, FromHex(op_hex));
      v.op = SecretBytes::Copy(op);
      SecureWipe(op.data(), op.size());
      SecureWipe(op_hex.data(), op_hex.size());
    }
    SIMKMS_ASSIGN_OR_RETURN(storage::VerRecord record, registry.AddVer(std::move(v)));
    return VerJson(record);
  }
  if (command == "range.assign") {
    SIMKMS_ASSIGN_OR_RETURN(std::string manufacturer, Arg<std::string>(args, "manufacturer"));
    SIMKMS_ASSIGN_OR_RETURN(uint32_t ver, Arg<uint32_t>(args, "ver"));
    SIMKMS_ASSIGN_OR_RETURN(std::string iccid, Arg<std::string>(args, "iccid_first"));
    SIMKMS_ASSIGN_OR_RETURN(std::string imsi, Arg<std::string>(args, "imsi_first"));
    SIMKMS_ASSIGN_OR_RETURN(uint64_t count, Arg<uint64_t>(args, "count"));
    SIMKMS_ASSIGN_OR_RETURN(int mnc_digits, OptionalArg<int>(args, "mnc_digits", 2));
    SIMKMS_ASSIGN_OR_RETURN(storage::RangeRecord r,
                            registry.AssignRange(manufacturer, ver, iccid, imsi, mnc_digits, count));
    return RangeJson(r);
  }
  if (command == "audit.verify") {
    SIMKMS_ASSIGN_OR_RETURN(storage::AuditVerifyReport report, s.store.VerifyAudit());
    Json j{{"result", report.ok ? "OK" : "BROKEN"},
           {"records_checked", report.records_checked},
           {"last_seq", report.last_seq}};
    if (!report.ok) {
      j["first_bad_seq"] = report.first_bad_seq;
      j["problem"] = report.problem;
    }
    return j;
  }
  if (command == "audit.show") {
    SIMKMS_ASSIGN_OR_RETURN(const uint64_t from, OptionalArg<uint64_t>(args, "from", 1));
    SIMKMS_ASSIGN_OR_RETURN(const std::size_t asked, OptionalArg<std::size_t>(args, "limit", 100));
    const std::size_t limit = std::min<std::size_t>(asked, 10000);
    SIMKMS_ASSIGN_OR_RETURN(auto records, s.store.ReadAudit(from, limit));
    Json list = Json::array();
    for (const auto& r : records) {
      Json details = Json::object();
      for (const auto& [k, v] : r.event.details) details[k] = v;
      list.push_back({{"seq", r.seq},
                      {"time_ms", r.event.time_ms},
                      {"actor", r.event.actor_role + ":" + r.event.actor_identity},
                      {"event", r.event.event},
                      {"subject", r.event.subject},
                      {"details", details}});
    }
    return list;
  }
  return InvalidArgumentError("unknown command '" + command + "'");
}

class AdminConnection : public std::enable_shared_from_this<AdminConnection> {
 public:
  AdminConnection(local::socket socket, ConnectionSlot slot, Services& services)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), slot_(std::move(slot)), services_(services) {}

  void Start() {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || !Allowed(cred.uid)) {
      services_.metrics.Count("simkms_admin_requests_total", "outcome", "peer_refused");
      return Send(Reply(PermissionDeniedError("peer uid not allowed on the admin socket")));
    }
    peer_ = "uid:" + std::to_string(cred.uid);
    // When kmsd stops: a connection that sent no command yet closes now; a
    // command taken on is answered first.
    membership_ = services_.graceful_stop.Join([weak = weak_from_this(), executor = socket_.get_executor()] {
      asio::post(executor, [weak] {
        if (auto self = weak.lock(); self && !self->taken_on_) self->socket_.close();
      });
    });
    timer_.expires_after(std::chrono::milliseconds(services_.config.read_timeout_ms));
    timer_.async_wait([weak = weak_from_this()](auto ec) {
      if (auto self = weak.lock(); self && !ec) self->socket_.close();
    });
    asio::async_read_until(socket_, asio::dynamic_buffer(line_, services_.config.max_message_bytes), '\n',
                           [self = shared_from_this()](auto ec, std::size_t n) {
                             self->timer_.cancel();
                             if (ec) return;
                             if (self->services_.graceful_stop.stopping()) {
                               return self->Send(Reply(UnavailableError("kmsd is stopping")));
                             }
                             self->taken_on_ = true;
                             self->membership_.Owe(1);
                             std::string request = self->line_.substr(0, n);
                             self->services_.crypto.Post([self, request](p11::Session& session) {
                               std::string reply = HandleAdminCommand(self->services_, session, request, self->peer_);
                               asio::post(self->socket_.get_executor(), [self, reply] { self->Send(reply); });
                             });
                           });
  }

 private:
  bool Allowed(uid_t uid) const {
    if (uid == 0 || uid == geteuid()) return true;
    const auto& uids = services_.config.admin_uids;
    return std::find(uids.begin(), uids.end(), uid) != uids.end();
  }

  void Send(std::string reply) {
    reply_ = std::move(reply);
    asio::async_write(socket_, asio::buffer(reply_), [self = shared_from_this()](auto, std::size_t) {
      boost::system::error_code ignored;
      self->socket_.close(ignored);
    });
  }

  local::socket socket_;
  asio::steady_timer timer_;
  ConnectionSlot slot_;  // this connection's place under admin.max_connections
  GracefulStop::Membership membership_;
  bool taken_on_ = false;  // a command was read: a stop waits for its answer
  Services& services_;
  std::string line_;
  std::string reply_;
  std::string peer_;
};

}  // namespace

std::string HandleAdminCommand(Services& services, p11::Session& session, const std::string& request,
                               const std::string& peer) {
  auto j = ParseStrictJson(request, "request");
  if (!j.ok()) return Reply(j.status());
  auto result = Run(services, session, *j, peer);
  services.metrics.Count("simkms_admin_requests_total", "outcome", result.ok() ? "ok" : "error");
  return Reply(result);
}

StatusOr<std::unique_ptr<UnixListener>> StartAdminListener(asio::io_context& io, const std::string& path,
                                                           Services& services) {
  return UnixListener::Start(io, local::endpoint(path), "admin", services.config.admin_max_connections,
                             services.metrics, [&services](local::socket socket, ConnectionSlot slot) {
                               if (services.graceful_stop.stopping()) return;
                               std::make_shared<AdminConnection>(std::move(socket), std::move(slot), services)->Start();
                             });
}

}  // namespace simkms::daemon
