// The asker's native receive path for the peer service (native/README.md):
// gRPC GetBlock calls over HTTP/2 (nghttp2), plain or TLS, all of a process's
// peer connections on one thread of their own, each block's bytes written
// from the socket's read buffer straight into the block buffer JavaScript
// gave, CRC32C taken on the way. JavaScript hears once per block.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "block-assembler.h"
#include "tls-transport.h"

namespace cachalot {

// How a call ended.
enum class CallEnd : int32_t {
  kOk = 0,
  kConnection = 1,  // no connection, or it failed: code (ECONNREFUSED...) and message
  kStatus = 2,      // the server's gRPC status (grpcStatus, grpcMessage, as sent)
  kBadBlock = 3,    // the peer sent what is not the block (message)
  kTimeout = 4,     // no whole block within the call's bound
  kClosing = 5,     // the client was closed
  kNoStatus = 6,    // the call ended without a gRPC status
};

struct CallResult {
  uint64_t id = 0;
  CallEnd end = CallEnd::kOk;
  std::string code;
  std::string message;
  std::string grpcStatus;
  std::string grpcMessage;
  uint32_t crc32c = 0;
  ChunkEncoding encoding = ChunkEncoding::kRaw;
  uint64_t wireBytes = 0;
};

struct Call {
  uint64_t id = 0;
  std::string address;  // host:port
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  uint8_t* target = nullptr;
  size_t length = 0;
  int64_t timeoutMs = 0;
};

class H2Client {
 public:
  // tls: null for plain TCP. done: called on the client's thread, once per
  // call, also for calls that the closing client fails.
  H2Client(int32_t receiveWindow, std::unique_ptr<TlsContext> tls, std::function<void(CallResult)> done);
  ~H2Client();
  // From any thread; the call's target must stay valid until done reports it.
  void Submit(Call call);
  // Stops the thread and fails the calls still running (kClosing); nothing writes a target after it returns.
  void Close();

 private:
  struct Conn;
  struct Job;
  void Run();
  void Start(std::unique_ptr<Job> job);
  Conn* ConnTo(const std::string& address);
  // Reports the call; `closing`: its stream is closing already, else it is cancelled.
  void Complete(Job* job, CallResult result, bool closing = false);
  void ExpireJobs();
  int NextTimeoutMs() const;
  void ReadFrom(Conn* conn);
  void Flush(Conn* conn);
  void Connected(Conn* conn);
  void Handshake(Conn* conn);
  void Opened(Conn* conn);
  void Watch(Conn* conn, bool out);
  IoResult Receive(Conn* conn);
  IoResult Send(Conn* conn, const char* data, size_t length);
  void FailConn(Conn* conn, const std::string& code, const std::string& message);
  void Retire(Conn* conn);
  void Drop(Conn* conn);
  CallResult Ended(Job* job, uint32_t errorCode);

  static int OnHeader(nghttp2_session*, const nghttp2_frame*, const uint8_t*, size_t, const uint8_t*, size_t, uint8_t, void*);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame*, void*);
  static int OnDataChunk(nghttp2_session*, uint8_t, int32_t, const uint8_t*, size_t, void*);
  static int OnStreamClose(nghttp2_session*, int32_t, uint32_t, void*);
  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t*, size_t, uint32_t*, nghttp2_data_source*, void*);

  const int32_t receiveWindow_;
  const std::unique_ptr<TlsContext> tls_;
  const std::function<void(CallResult)> done_;
  int epoll_ = -1;
  int wake_ = -1;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<Call> incoming_;  // under mutex_
  bool stopping_ = false;       // under mutex_
  // Thread-only from here on.
  // Connections new calls go on, by address; live_ also has those that failed or got GOAWAY, until dropped.
  std::unordered_map<std::string, Conn*> conns_;
  std::vector<Conn*> live_;
  // Calls not yet reported (each owned by its connection's stream table, or by refused_).
  std::unordered_map<uint64_t, Job*> jobs_;
  // Calls the owner refused unprocessed, to send again.
  std::vector<std::unique_ptr<Job>> refused_;
  nghttp2_session_callbacks* callbacks_ = nullptr;
  std::vector<uint8_t> readBuffer_;
};

}  // namespace cachalot
