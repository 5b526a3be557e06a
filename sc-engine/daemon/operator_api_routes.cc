#include <nlohmann/json.hpp>

#include "base/strict_json.h"
#include "base/wiped_buffer.h"
#include "policy/lifecycle.h"
#include "policy/roles.h"
#include "sc-engine/daemon/operator_api.h"
#include "sc-engine/engine/record_json.h"
#include "sc-engine/engine/subscriber_registry.h"
#include "storage/identifiers.h"

namespace simkms::daemon {
namespace {

using Json = nlohmann::ordered_json;

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

ApiResponse Error(const Status& s) {
  Json j;
  j["error"] = {{"code", std::string(StatusCodeName(s.code()))},
                {"message", s.code() == StatusCode::kInternal ? "internal error" : s.message()}};
  return {HttpStatusFor(s.code()), sc::DumpJson(j)};
}

ApiResponse Ok(int status, const Json& j) { return {status, sc::DumpJson(j)}; }

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

// A JSON object with only the allowed fields, each at most once.
StatusOr<Json> ParseBody(const std::string& body, std::initializer_list<const char*> allowed) {
  SIMKMS_ASSIGN_OR_RETURN(Json j, ParseStrictJson(body, "request body"));
  if (!j.is_object()) return InvalidArgumentError("request body is not a JSON object");
  for (const auto& [key, value] : j.items()) {
    bool known = false;
    for (const char* a : allowed) known = known || key == a;
    if (!known) return InvalidArgumentError("unknown field '" + key + "'");
  }
  return j;
}

StatusOr<std::string> StringField(const Json& j, const char* key, bool required) {
  if (!j.contains(key)) {
    if (required) return InvalidArgumentError(std::string("field '") + key + "' is required");
    return std::string();
  }
  if (!j[key].is_string()) return InvalidArgumentError(std::string("field '") + key + "' must be a string");
  std::string value = j[key].get<std::string>();
  // Every string field is printed somewhere (audit trail, logs, kmsctl).
  SIMKMS_RETURN_IF_ERROR(CheckFreeText(value, std::string("field '") + key + "'"));
  return value;
}

// A secret string field (the activation code): copied into a wiping buffer and
// wiped in the parsed document at once. Empty if absent.
StatusOr<SecretBytes> SecretField(Json& j, const char* key) {
  if (!j.contains(key)) return SecretBytes();
  if (!j[key].is_string()) return InvalidArgumentError(std::string("field '") + key + "' must be a string");
  std::string& text = j[key].get_ref<std::string&>();
  WipeOnExit wipe_text(text);
  return SecretBytes::Copy(AsBytes(text));
}

struct Route {
  policy::Operation operation;
  std::function<ApiResponse(sc::SubscriberRegistry&)> run;
};

StatusOr<Route> Match(const ApiRequest& req) {
  std::string path = req.target.substr(0, req.target.find('?'));
  const std::vector<std::string> p = Split(path);
  const auto& m = req.method;
  if (p.size() < 2 || p[0] != "v1") return NotFoundError("no such resource " + path);
  if (m == "POST" && p.size() == 2 && p[1] == "contracts") {
    return Route{policy::Operation::kContractCreate, [&req](sc::SubscriberRegistry& reg) {
                   auto body = ParseBody(req.body, {"order_id", "iccid", "ver", "activation_code", "msisdn"});
                   if (!body.ok()) return Error(body.status());
                   sc::ContractRequest c;
                   auto order = StringField(*body, "order_id", true);
                   auto iccid = StringField(*body, "iccid", true);
                   auto code = SecretField(*body, "activation_code");
                   auto msisdn = StringField(*body, "msisdn", false);
                   for (const Status& s : {order.status(), iccid.status(), code.status(), msisdn.status()}) {
                     if (!s.ok()) return Error(s);
                   }
                   c.order_id = *order;
                   c.iccid = *iccid;
                   if (body->contains("msisdn")) c.msisdn = *msisdn;  // "" is given, and refused as not 1..15 digits
                   if (!code->empty()) c.activation_code = std::move(*code);
                   if (body->contains("ver")) {
                     uint32_t ver = 0;
                     if (Status s = FromJson((*body)["ver"], &ver, "field 'ver'"); !s.ok()) return Error(s);
                     c.ver = ver;
                   }
                   auto r = reg.Contract(c);
                   if (!r.ok()) return Error(r.status());
                   return Ok(201, sc::SubscriberJson(*r));
                 }};
  }
  if (p[1] == "subscribers" && p.size() >= 3) {
    const std::string imsi = p[2];
    if (!storage::IsValidImsi(imsi)) return InvalidArgumentError("'" + imsi + "' is not a 15-digit IMSI");
    if (m == "GET" && p.size() == 3) {
      return Route{policy::Operation::kStatusRead, [imsi](sc::SubscriberRegistry& reg) {
                     auto r = reg.Get(imsi);
                     return r.ok() ? Ok(200, sc::SubscriberJson(*r)) : Error(r.status());
                   }};
    }
    if (m == "DELETE" && p.size() == 3) {
      return Route{policy::Operation::kTerminate, [imsi](sc::SubscriberRegistry& reg) {
                     Status s = reg.Terminate(imsi);
                     return s.ok() ? ApiResponse{204, ""} : Error(s);
                   }};
    }
    if (m == "POST" && p.size() == 4 && p[3] == "rekey") {
      return Route{policy::Operation::kRekeyRequest, [imsi](sc::SubscriberRegistry& reg) {
                     auto r = reg.RequestRekey(imsi);
                     return r.ok() ? Ok(200, sc::SubscriberJson(*r)) : Error(r.status());
                   }};
    }
    if (m == "GET" && p.size() == 4 && p[3] == "puk") {
      return Route{policy::Operation::kPukRead, [imsi](sc::SubscriberRegistry& reg) {
                     auto puk = reg.ReadPuk(imsi);
                     if (!puk.ok()) return Error(puk.status());
                     // Written straight into the body (digits and a validated IMSI need no
                     // escaping): no JSON document holds the PUK; the body is wiped once sent.
                     const ByteView digits = puk->reveal();
                     ApiResponse response{200, std::string()};
                     response.body.reserve(64);
                     response.body.append(R"({"imsi":")").append(imsi).append(R"(","puk":")");
                     response.body.append(reinterpret_cast<const char*>(digits.data()), digits.size());
                     response.body.append(R"("})");
                     return response;
                   }};
    }
  }
  if (m == "GET" && p.size() == 2 && p[1] == "vers") {
    return Route{policy::Operation::kStatusRead, [](sc::SubscriberRegistry& reg) {
                   auto vers = reg.ListVers();
                   if (!vers.ok()) return Error(vers.status());
                   Json list = Json::array();
                   for (const auto& v : *vers) list.push_back(sc::VerJson(v));
                   return Ok(200, list);
                 }};
  }
  if (m == "GET" && p.size() == 2 && p[1] == "ranges") {
    return Route{policy::Operation::kStatusRead, [](sc::SubscriberRegistry& reg) {
                   auto ranges = reg.ListRanges();
                   if (!ranges.ok()) return Error(ranges.status());
                   Json list = Json::array();
                   for (const auto& r : *ranges) list.push_back(sc::RangeJson(r));
                   return Ok(200, list);
                 }};
  }
  return NotFoundError("no such resource: " + m + " " + path);
}

}  // namespace

ApiResponse HandleApiRequest(Services& services, p11::Session& session, const ApiRequest& req) {
  auto role = policy::ParseRole(req.role);
  if (!role.ok()) return Error(PermissionDeniedError("client certificate maps to no role"));
  auto route = Match(req);
  if (!route.ok()) return Error(route.status());
  if (Status allowed = policy::Authorize(*role, route->operation); !allowed.ok()) return Error(allowed);
  sc::SubscriberRegistry registry = services.registries.Open(session, {req.role, req.identity});
  return route->run(registry);
}

}  // namespace simkms::daemon
