#include "tls-transport.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cerrno>

namespace cachalot {
namespace {

constexpr unsigned char kAlpnH2[] = {2, 'h', '2'};

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using Bio = std::unique_ptr<BIO, BioFree>;

Bio MemoryBio(const std::string& text) { return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))); }

// The certificates of a PEM text, in order, each handed to `take` (which owns it); how many there were.
template <typename Take>
int EachCertificate(const std::string& pem, Take take) {
  Bio bio = MemoryBio(pem);
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    take(cert);
    count++;
  }
  ERR_clear_error();  // the read past the last one
  return count;
}

bool UseFiles(SSL_CTX* ctx, const TlsFiles& files, std::string& error) {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int count = EachCertificate(files.ca, [store](X509* cert) {
    X509_STORE_add_cert(store, cert);
    X509_free(cert);
  });
  if (count == 0) return error = "the CA has no PEM certificate", false;
  if (files.cert.empty()) return true;
  bool leaf = true, ok = true;
  EachCertificate(files.cert, [&](X509* cert) {
    // The leaf is the process's certificate; the rest of the chain goes with it.
    ok = ok && (leaf ? SSL_CTX_use_certificate(ctx, cert) == 1 : SSL_CTX_add1_chain_cert(ctx, cert) == 1);
    leaf = false;
    X509_free(cert);
  });
  if (leaf || !ok) return error = "the certificate is not usable PEM", false;
  Bio bio = MemoryBio(files.key);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  ok = key != nullptr && SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  EVP_PKEY_free(key);
  if (!ok) return error = "the key is not the certificate's, or not usable PEM", false;
  return true;
}

// "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED" from "tlsv13 alert certificate required", as node names it.
std::string CodeOf(const std::string& reason) {
  std::string code = "ERR_SSL_";
  for (char c : reason) code += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : '_';
  return code;
}

// What a failed SSL call (it returned `ret`) came to.
IoResult Outcome(SSL* ssl, int ret) {
  IoResult result;
  int error = SSL_get_error(ssl, ret);
  unsigned long queued = ERR_peek_last_error();
  switch (error) {
    case SSL_ERROR_WANT_READ:
      result.status = IoStatus::kWantRead;
      return result;
    case SSL_ERROR_WANT_WRITE:
      result.status = IoStatus::kWantWrite;
      return result;
    case SSL_ERROR_ZERO_RETURN:
      result.status = IoStatus::kClosed;
      return result;
    case SSL_ERROR_SYSCALL:
      if (queued == 0) {
        int err = errno;
        result.status = err == 0 ? IoStatus::kClosed : IoStatus::kFailed;
        result.code = err == 0 ? "" : ErrorName(err);
        result.message = err == 0 ? "" : "TLS " + result.code;
        return result;
      }
      break;
    default:
      break;
  }
  // A peer that hangs up mid-record has closed the connection, as a plain socket that ends.
  if (ERR_GET_REASON(queued) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    result.status = IoStatus::kClosed;
    return result;
  }
  result.status = IoStatus::kFailed;
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    result.code = "ERR_TLS_CERT_VERIFY";
    result.message = X509_verify_cert_error_string(verify);
  } else {
    const char* reason = queued ? ERR_reason_error_string(queued) : nullptr;
    result.message = reason ? reason : "TLS error";
    result.code = CodeOf(result.message);
  }
  return result;
}

}  // namespace

std::unique_ptr<TlsContext> TlsContext::Make(const TlsFiles& files, std::string& error) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return error = "no TLS context", nullptr;
  std::unique_ptr<TlsContext> context(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Partial writes: the HTTP/2 output is written as the socket takes it.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_set_alpn_protos(ctx, kAlpnH2, sizeof kAlpnH2) != 0) return error = "ALPN cannot be set", nullptr;
  bool ok = UseFiles(ctx, files, error);
  ERR_clear_error();
  return ok ? std::move(context) : nullptr;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

SSL* TlsContext::Open(int fd, const std::string& host) const {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl) return nullptr;
  SSL_set_fd(ssl, fd);
  SSL_set_connect_state(ssl);
  in6_addr ip;
  bool isIp = inet_pton(AF_INET, host.c_str(), &ip) == 1 || inet_pton(AF_INET6, host.c_str(), &ip) == 1;
  // The certificate must name what was called: an IP address, or a host name (also sent as SNI).
  bool named = isIp ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1
                    : SSL_set_tlsext_host_name(ssl, host.c_str()) == 1 && SSL_set1_host(ssl, host.c_str()) == 1;
  if (!named) {
    SSL_free(ssl);
    return nullptr;
  }
  return ssl;
}

// Each call starts with no error queued and errno 0, which Outcome reads.
IoResult TlsHandshake(SSL* ssl) {
  ERR_clear_error();
  errno = 0;
  int ret = SSL_do_handshake(ssl);
  if (ret != 1) return Outcome(ssl, ret);
  const unsigned char* protocol = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl, &protocol, &length);
  IoResult result;
  if (length != 2 || protocol[0] != 'h' || protocol[1] != '2') {
    result.status = IoStatus::kFailed;
    result.code = "ERR_HTTP2_ERROR";
    result.message = "the peer did not agree to HTTP/2 (ALPN h2)";
  }
  return result;
}

IoResult TlsRead(SSL* ssl, uint8_t* into, size_t length) {
  ERR_clear_error();
  errno = 0;
  IoResult result;
  int ret = SSL_read_ex(ssl, into, length, &result.bytes);
  return ret == 1 ? result : Outcome(ssl, ret);
}

IoResult TlsWrite(SSL* ssl, const char* data, size_t length) {
  ERR_clear_error();
  errno = 0;
  IoResult result;
  int ret = SSL_write_ex(ssl, data, length, &result.bytes);
  return ret == 1 ? result : Outcome(ssl, ret);
}

}  // namespace cachalot
