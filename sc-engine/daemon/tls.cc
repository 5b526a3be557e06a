#include "sc-engine/daemon/tls_internal.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace simkms::daemon {

StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(const Config& config) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION) != 1) return InternalError("cannot require TLS 1.3");
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(config.tls_cert, ec);
  if (ec) return InvalidArgumentError("tls.cert " + config.tls_cert + ": " + ec.message());
  ctx->use_private_key_file(config.tls_key, ssl::context::pem, ec);
  if (ec) return InvalidArgumentError("tls.key " + config.tls_key + ": " + ec.message());
  ctx->load_verify_file(config.tls_ca, ec);
  if (ec) return InvalidArgumentError("tls.ca " + config.tls_ca + ": " + ec.message());
  ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  return ctx;
}

std::string PeerCommonName(SSL* ssl) {
  if (SSL_get_verify_result(ssl) != X509_V_OK) return "";
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return "";
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  X509_free(cert);
  return cn;
}

}  // namespace simkms::daemon
