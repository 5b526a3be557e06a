// The operator API over TLS 1.3 with client certificates mapped to roles,
// driven with curl as an independent TLS client.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

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

  // Connects to port with cn's certificate, sends `request`, reads until kmsd
  // ends the connection; true if it ended the TLS session with close_notify
  // (SSL_ERROR_ZERO_RETURN) rather than by closing the socket under it.
  bool EndsWithCloseNotify(uint16_t port, const std::string& cn, const std::string& request) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx, Pki("ca.crt").c_str(), nullptr);
    SSL_CTX_use_certificate_chain_file(ctx, Pki(cn + ".crt").c_str());
    SSL_CTX_use_PrivateKey_file(ctx, Pki(cn + ".key").c_str(), SSL_FILETYPE_PEM);
    SSL* ssl = SSL_new(ctx);
    const int fd = ConnectLoopback(port);
    SSL_set_fd(ssl, fd);
    bool close_notify = false;
    if (fd >= 0 && SSL_connect(ssl) == 1) {
      if (!request.empty()) SSL_write(ssl, request.data(), static_cast<int>(request.size()));
      char buffer[4096];
      int n;
      while ((n = SSL_read(ssl, buffer, sizeof buffer)) > 0) {
      }
      close_notify = SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN;
    }
    ERR_clear_error();
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    if (fd >= 0) close(fd);
    return close_notify;
  }
};

// TLS connections end with close_notify (async_shutdown), whether kmsd ends
// them after an answer or after the read timeout (3 s in the fixture).
class KmsdTlsShutdownTest : public KmsdTlsTest {
 protected:
  void SetUp() override {
    listener_settings_["chip_channel"] = R"("tls": true, "roles": {"ota-gw-1": "chip_gateway"})";
    KmsdTlsTest::SetUp();
  }
};

TEST_F(KmsdTlsShutdownTest, KmsdEndsTlsSessionsWithCloseNotify) {
  IssueCertificate("vo-1");
  IssueCertificate("ota-gw-1");
  EXPECT_TRUE(EndsWithCloseNotify(api_port_, "vo-1",
                                  std::string("GET /v1/subscribers/") + kImsi0 +
                                      " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
  EXPECT_TRUE(EndsWithCloseNotify(chip_port_, "ota-gw-1", ""));  // idle: the read timeout
}

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
