// The operator API over TLS 1.3 with client certificates mapped to roles,
// driven with curl as an independent TLS client.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/e2e/kmsd_fixture.h"

namespace simkms::e2e {
namespace {

using ::testing::HasSubstr;

class KmsdTlsTest : public KmsdFixture {
 protected:
  KmsdTlsTest() { tls_ = true; }

  // curl's HTTP status, or 0 if the TLS connection failed.
  int Curl(const std::string& cn, const std::string& method, const std::string& path, const std::string& body = "",
           std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
                                  Pki("ca.crt"), "-X", method};
    if (!cn.empty()) {
      argv.insert(argv.end(), {"--cert", Pki(cn + ".crt"), "--key", Pki(cn + ".key")});
    }
    if (!body.empty()) argv.insert(argv.end(), {"-H", "Content-Type: application/json", "-d", body});
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("https://127.0.0.1:" + std::to_string(api_port_) + path);
    ProcessResult r = simkms::testing::RunProcess(argv);
    return r.out.empty() ? 0 : std::stoi(r.out);
  }
};

TEST_F(KmsdTlsTest, ClientCertificatesMapToRoles) {
  IssueCertificate("vo-1");
  IssueCertificate("care-1");
  IssueCertificate("rogue");
  IssueCertificate("vo-1-forged", /*foreign_ca=*/true);
  const std::string contract = R"({"order_id":"o-1","iccid":"8949001234567890128"})";
  EXPECT_EQ(Curl("vo-1", "POST", "/v1/contracts", contract), 201);
  EXPECT_EQ(Curl("vo-1", "GET", std::string("/v1/subscribers/") + kImsi0 + "/puk"), 403);  // the operator may not
  EXPECT_EQ(Curl("care-1", "GET", std::string("/v1/subscribers/") + kImsi0 + "/puk"), 404);  // allowed: no PUK yet
  EXPECT_EQ(Curl("care-1", "POST", "/v1/contracts", R"({"order_id":"o-2","iccid":"8949001234567890136"})"), 403);
  EXPECT_EQ(Curl("rogue", "GET", std::string("/v1/subscribers/") + kImsi0), 403);  // CN maps to no role
  EXPECT_EQ(Curl("", "GET", std::string("/v1/subscribers/") + kImsi0), 0);          // no client certificate
  EXPECT_EQ(Curl("vo-1-forged", "GET", std::string("/v1/subscribers/") + kImsi0), 0);  // another CA
  EXPECT_EQ(Curl("vo-1", "GET", std::string("/v1/subscribers/") + kImsi0, "", {"--tls-max", "1.2"}), 0);  // TLS 1.2
  EXPECT_EQ(Curl("vo-1", "GET", std::string("/v1/subscribers/") + kImsi0), 200);  // still serving
}

}  // namespace
}  // namespace simkms::e2e
