// simkms-gsup: asks a GSUP AuC (kmsd, osmo-hlr) for authentication vectors the
// way an MSC/SGSN does: TCP, IPA CCM identity exchange, SEND_AUTH_INFO_REQUEST,
// then prints each vector or the error cause. For demos, tests and operators
// checking a deployment; the vectors it prints are the session keys the
// network would use, so it belongs on a test network only.
//
//   simkms-gsup --server 127.0.0.1:4222 --imsi 001010000000000 [--imsi ...] [--count N]
//               [--auts HEX --rand HEX] [--cn-domain cs|ps] [--name SERNR] [--timeout-ms MS] [--json]
//
// Text output, one line per vector (or per error), key=value:
//   imsi=001010000000000 vector=1 rand=... autn=... xres=... ck=... ik=... sres=... kc=...
//   imsi=001019999999999 error=IMSI_UNKNOWN cause=0x02
// Exit codes: 0 every IMSI got vectors; 3 at least one SEND_AUTH_INFO_ERROR;
// 1 connection or protocol failure; 2 bad command line.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "tools/gsup-client/gsup_connection.h"

namespace {

using simkms::gsup::GmmCause;
using simkms::gsup::Message;
using simkms::gsup::MessageType;

std::string CauseName(GmmCause cause) {
  switch (cause) {
    case GmmCause::kImsiUnknown:
      return "IMSI_UNKNOWN";
    case GmmCause::kNetworkFailure:
      return "NETWORK_FAILURE";
    case GmmCause::kInvalidMandatoryInfo:
      return "INVALID_MANDATORY_INFO";
    case GmmCause::kMessageTypeNotImplemented:
      return "MSGT_NOTEXIST_NOTIMPL";
    case GmmCause::kMessageTypeIncompatibleState:
      return "MSGT_INCOMP_P_STATE";
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "CAUSE_0x%02x", static_cast<unsigned>(cause));
  return buf;
}

std::string CauseHex(GmmCause cause) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", static_cast<unsigned>(cause));
  return buf;
}

template <std::size_t N>
bool FixedHex(const std::string& text, std::array<uint8_t, N>& out) {
  auto bytes = simkms::FromHex(text);
  if (!bytes.ok() || bytes->size() != N) return false;
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return true;
}

std::string Hex(simkms::ByteView b) { return simkms::ToHex(b); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"simkms-gsup: fetch authentication vectors from a GSUP AuC (SEND_AUTH_INFO over IPA)"};
  std::string server, auts_hex, rand_hex, cn_domain = "cs", name = "SIMKMS-GSUP";
  std::vector<std::string> imsis;
  std::optional<unsigned> count;
  int timeout_ms = 5000;
  bool json = false;
  app.add_option("--server", server, "the AuC, HOST:PORT")->required();
  app.add_option("--imsi", imsis, "subscriber IMSI, 6..15 digits (repeat for several, one connection)")
      ->required();
  app.add_option("--count", count, "vectors to request, 1..5 (NUM_VECTORS_REQ; absent: the AuC sends 5)")
      ->check(CLI::Range(1u, 5u));
  app.add_option("--auts", auts_hex, "resynchronisation: the chip's AUTS, 14 bytes hex (with --rand)");
  app.add_option("--rand", rand_hex, "resynchronisation: the RAND the AUTS answers, 16 bytes hex");
  app.add_option("--cn-domain", cn_domain, "cs (as osmo-msc) or ps (as osmo-sgsn)")
      ->check(CLI::IsMember({"cs", "ps"}))
      ->capture_default_str();
  app.add_option("--name", name, "IPA serial number (SERNR) announced to the AuC")->capture_default_str();
  app.add_option("--timeout-ms", timeout_ms, "per-read timeout")->check(CLI::Range(1, 600000))->capture_default_str();
  app.add_flag("--json", json, "one JSON document on stdout");
  CLI11_PARSE(app, argc, argv);

  std::array<uint8_t, 14> auts{};
  std::array<uint8_t, 16> rand{};
  const bool resync = !auts_hex.empty() || !rand_hex.empty();
  if (resync) {
    if (!FixedHex(auts_hex, auts) || !FixedHex(rand_hex, rand)) {
      std::cerr << "simkms-gsup: resynchronisation needs --auts (14 bytes hex) and --rand (16 bytes hex)\n";
      return 2;
    }
  }
  for (const std::string& imsi : imsis) {
    if (!simkms::gsup::EncodeImsiTbcd(imsi).ok()) {
      std::cerr << "simkms-gsup: IMSI must be 6..15 decimal digits: '" << imsi << "'\n";
      return 2;
    }
  }
  if (name.find('\0') != std::string::npos || name.size() > 200) {
    std::cerr << "simkms-gsup: --name must be a short string\n";
    return 2;
  }
  auto endpoint = simkms::gsup_client::ParseEndpoint(server);
  if (!endpoint.ok()) {
    std::cerr << "simkms-gsup: --server: " << endpoint.status().message() << "\n";
    return 2;
  }

  simkms::gsup_client::GsupConnection connection;
  if (auto s = connection.Connect(*endpoint, name, timeout_ms); !s.ok()) {
    std::cerr << "simkms-gsup: " << s.ToString() << "\n";
    return 1;
  }
  nlohmann::json answers = nlohmann::json::array();
  bool any_error = false;
  for (const std::string& imsi : imsis) {
    Message request = simkms::gsup::MakeSendAuthInfoRequest(
        imsi, count ? std::optional<uint8_t>(static_cast<uint8_t>(*count)) : std::nullopt,
        cn_domain == "ps" ? simkms::gsup::kCnDomainPs : simkms::gsup::kCnDomainCs);
    if (resync) {
      request.auts = auts;
      request.rand = rand;
    }
    auto answer = connection.Exchange(request);
    if (!answer.ok()) {
      std::cerr << "simkms-gsup: IMSI " << imsi << ": " << answer.status().ToString() << "\n";
      return 1;
    }
    if (answer->type == MessageType::kSendAuthInfoError) {
      any_error = true;
      const GmmCause cause = answer->cause.value_or(static_cast<GmmCause>(0));
      if (json) {
        answers.push_back({{"imsi", imsi},
                           {"error", {{"cause", static_cast<unsigned>(cause)}, {"name", CauseName(cause)}}}});
      } else {
        std::cout << "imsi=" << imsi << " error=" << CauseName(cause) << " cause=" << CauseHex(cause) << "\n";
      }
      continue;
    }
    if (answer->type != MessageType::kSendAuthInfoResult || answer->tuples.empty()) {
      std::cerr << "simkms-gsup: IMSI " << imsi << ": unexpected answer " << simkms::gsup::Describe(*answer) << "\n";
      return 1;
    }
    nlohmann::json vectors = nlohmann::json::array();
    int n = 0;
    for (const auto& t : answer->tuples) {
      ++n;
      if (json) {
        vectors.push_back({{"rand", Hex(t.rand)}, {"autn", Hex(t.autn)}, {"xres", Hex(t.res)}, {"ck", Hex(t.ck)},
                           {"ik", Hex(t.ik)}, {"sres", Hex(t.sres)}, {"kc", Hex(t.kc)}});
      } else {
        std::cout << "imsi=" << imsi << " vector=" << n << " rand=" << Hex(t.rand) << " autn=" << Hex(t.autn)
                  << " xres=" << Hex(t.res) << " ck=" << Hex(t.ck) << " ik=" << Hex(t.ik) << " sres=" << Hex(t.sres)
                  << " kc=" << Hex(t.kc) << "\n";
      }
    }
    if (json) answers.push_back({{"imsi", imsi}, {"vectors", vectors}});
  }
  if (json) std::cout << nlohmann::json{{"server", server}, {"answers", answers}}.dump(2) << "\n";
  return any_error ? 3 : 0;
}
