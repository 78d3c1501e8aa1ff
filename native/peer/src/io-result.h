// What a step on a peer connection came to, plain socket or TLS alike
// (h2-client.cc, tls-transport.cc), in the words node uses for such failures.
#pragma once

#include <cstring>
#include <string>

namespace cachalot {

enum class IoStatus {
  kDone,       // `bytes` moved (or the handshake is complete)
  kWantRead,   // again once the socket is readable
  kWantWrite,  // again once the socket is writable
  kClosed,     // the peer closed the connection
  kFailed,     // `code` and `message`, as node names such failures
};

struct IoResult {
  IoStatus status = IoStatus::kDone;
  size_t bytes = 0;
  std::string code;
  std::string message;
};

// "ECONNREFUSED", as node names a system error.
inline std::string ErrorName(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "E" + std::to_string(err);
}

}  // namespace cachalot
