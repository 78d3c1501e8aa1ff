// TLS for the native receive path (native/README.md): the checks node's
// https client makes (src/rpc/http2-sessions.ts): the peer's certificate
// must chain to the CA given (--tls-ca, else node's root CAs, which
// peer-client.ts passes) and name the host or IP address called; the process's own
// certificate is shown to peers that ask for one (mutual TLS); ALPN "h2".
// OpenSSL is node's own (its headers come with node's, its symbols are the
// node binary's), so the addon links no second copy.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "io-result.h"

namespace cachalot {

// PEM text: the CAs, and the certificate and key (empty: none to show).
struct TlsFiles {
  std::string ca;
  std::string cert;
  std::string key;
};

class TlsContext {
 public:
  // Null, and `error` says why, when the PEM text is not usable.
  static std::unique_ptr<TlsContext> Make(const TlsFiles& files, std::string& error);
  ~TlsContext();
  // A client session on the connected socket fd, for `host` (a name or an IP address).
  SSL* Open(int fd, const std::string& host) const;

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

IoResult TlsHandshake(SSL* ssl);
IoResult TlsRead(SSL* ssl, uint8_t* into, size_t length);
IoResult TlsWrite(SSL* ssl, const char* data, size_t length);

}  // namespace cachalot
