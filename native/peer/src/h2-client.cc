#include "h2-client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <map>
#include <utility>

namespace cachalot {
namespace {

// One socket read; a 512 MiB read is a few thousand of them.
constexpr size_t kReadBufferBytes = 256 * 1024;
// Bytes of HTTP/2 output gathered before they are written.
constexpr size_t kOutputBatchBytes = 1 << 20;
constexpr int kMaxEvents = 64;
// Times a call refused unprocessed (REFUSED_STREAM) is sent again.
constexpr int kMaxRefusals = 3;

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

// What a recv or send that returned n came to, worded as TLS's outcomes are; `blocked`: what EAGAIN means.
IoResult SocketOutcome(ssize_t n, IoStatus blocked, const char* verb) {
  IoResult result;
  if (n > 0 || (n == 0 && blocked == IoStatus::kWantWrite)) {
    result.bytes = static_cast<size_t>(n);
  } else if (n == 0) {
    result.status = IoStatus::kClosed;
  } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
    result.status = blocked;
  } else {
    result.status = IoStatus::kFailed;
    result.code = ErrorName(errno);
    result.message = std::string(verb) + " " + result.code;
  }
  return result;
}

bool SplitAddress(const std::string& address, std::string& host, std::string& port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return false;
  host = address.substr(0, colon);
  port = address.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return true;
}

}  // namespace

// A call on its way: owned by its connection's stream table from the moment
// it has a stream until nghttp2 closes that stream, so that the request body
// nghttp2 reads stays valid; `reported` once done_ has heard of it, after
// which nothing writes its target.
struct H2Client::Job {
  Call call;
  BlockAssembler assembler;
  int64_t deadline;
  bool reported = false;
  bool responded = false;
  int refusals = 0;
  bool statusSeen = false;  // grpc-status in the headers frame being read
  bool hasStatus = false;   // ... and that frame is over: the status is final
  std::string grpcStatus;
  std::string grpcMessage;
  size_t bodySent = 0;
  int32_t streamId = 0;
  Conn* conn = nullptr;

  explicit Job(Call c) : call(std::move(c)), assembler(call.target, call.length), deadline(NowMs() + call.timeoutMs) {}
};

struct H2Client::Conn {
  H2Client* client;
  std::string address;
  std::string host;
  int fd = -1;
  SSL* ssl = nullptr;  // with TLS
  nghttp2_session* session = nullptr;
  bool handshaking = false;  // TCP is connected, TLS is not yet
  bool connected = false;    // HTTP/2 can flow
  bool failed = false;
  bool watchingOut = true;
  bool readWantsWrite = false;  // TLS must write before it can read on
  // Why the connection failed (empty when the peer just closed it).
  std::string errorCode;
  std::string errorMessage;
  std::string out;
  size_t outAt = 0;
  std::map<int32_t, std::unique_ptr<Job>> streams;

  ~Conn() {
    if (session) nghttp2_session_del(session);
    if (ssl) SSL_free(ssl);
    if (fd >= 0) close(fd);
  }
};

H2Client::H2Client(int32_t receiveWindow, std::unique_ptr<TlsContext> tls, std::function<void(CallResult)> done)
    : receiveWindow_(receiveWindow), tls_(std::move(tls)), done_(std::move(done)), readBuffer_(kReadBufferBytes) {
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.ptr = nullptr;
  epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &event);
  nghttp2_session_callbacks_new(&callbacks_);
  nghttp2_session_callbacks_set_on_header_callback(callbacks_, OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks_, OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks_, OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks_, OnStreamClose);
  thread_ = std::thread([this] { Run(); });
}

H2Client::~H2Client() {
  Close();
  nghttp2_session_callbacks_del(callbacks_);
  close(epoll_);
  close(wake_);
}

void H2Client::Submit(Call call) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stopping_) {
      incoming_.push_back(std::move(call));
      uint64_t one = 1;
      (void)!write(wake_, &one, sizeof one);
      return;
    }
  }
  CallResult result;
  result.id = call.id;
  result.end = CallEnd::kClosing;
  done_(std::move(result));
}

void H2Client::Close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    uint64_t one = 1;
    (void)!write(wake_, &one, sizeof one);
  }
  thread_.join();
}

void H2Client::Run() {
  epoll_event events[kMaxEvents];
  for (;;) {
    std::vector<Call> calls;
    bool stop;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      calls.swap(incoming_);
      stop = stopping_;
    }
    if (stop) {
      for (auto& call : calls) {
        CallResult result;
        result.id = call.id;
        result.end = CallEnd::kClosing;
        done_(std::move(result));
      }
      break;
    }
    for (auto& call : calls) Start(std::make_unique<Job>(std::move(call)));
    for (Conn* conn : live_) Flush(conn);
    for (Conn* conn : std::vector<Conn*>(live_)) {
      if (conn->failed) Drop(conn);
    }
    int n = epoll_wait(epoll_, events, kMaxEvents, NextTimeoutMs());
    for (int i = 0; i < n; i++) {
      auto* conn = static_cast<Conn*>(events[i].data.ptr);
      if (!conn) {
        uint64_t count;
        (void)!read(wake_, &count, sizeof count);
        continue;
      }
      uint32_t ev = events[i].events;
      if (!conn->failed && !conn->connected) conn->handshaking ? Handshake(conn) : Connected(conn);
      // TLS is read on any event: a read it left for want of a write goes on once the socket takes one.
      if (!conn->failed && conn->connected && (conn->ssl || (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))) ReadFrom(conn);
      if (!conn->failed && conn->connected && (ev & EPOLLOUT)) Flush(conn);
    }
    ExpireJobs();
    for (auto& job : std::exchange(refused_, {})) {
      if (!job->reported) Start(std::move(job));
    }
  }
  // Closing: every call still running ends, and no target is written after this.
  for (auto& [id, job] : jobs_) {
    job->reported = true;
    CallResult result;
    result.id = id;
    result.end = CallEnd::kClosing;
    done_(std::move(result));
  }
  jobs_.clear();
  refused_.clear();
  while (!live_.empty()) Drop(live_.back());
}

void H2Client::Start(std::unique_ptr<Job> job) {
  Conn* conn = ConnTo(job->call.address);
  if (!conn || conn->failed) {
    CallResult result;
    result.id = job->call.id;
    result.end = CallEnd::kConnection;
    result.code = conn ? conn->errorCode : "EINVAL";
    result.message = conn ? conn->errorMessage : "not a HOST:PORT address: " + job->call.address;
    jobs_.erase(job->call.id);  // a call sent again after a refusal is there
    return done_(std::move(result));
  }
  std::vector<nghttp2_nv> headers;
  for (auto& [name, value] : job->call.headers) {
    headers.push_back({reinterpret_cast<uint8_t*>(name.data()), reinterpret_cast<uint8_t*>(value.data()), name.size(), value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  nghttp2_data_provider body{};
  body.source.ptr = job.get();
  body.read_callback = ReadBody;
  int32_t stream = nghttp2_submit_request(conn->session, nullptr, headers.data(), headers.size(), &body, job.get());
  if (stream < 0) {
    CallResult result;
    result.id = job->call.id;
    result.end = CallEnd::kConnection;
    result.code = "ERR_HTTP2_SESSION_ERROR";
    result.message = nghttp2_strerror(stream);
    jobs_.erase(job->call.id);
    return done_(std::move(result));
  }
  job->streamId = stream;
  job->conn = conn;
  jobs_[job->call.id] = job.get();
  conn->streams[stream] = std::move(job);
}

H2Client::Conn* H2Client::ConnTo(const std::string& address) {
  auto known = conns_.find(address);
  if (known != conns_.end()) return known->second;
  std::string host, port;
  if (!SplitAddress(address, host, port)) return nullptr;
  auto* conn = new Conn();
  conn->client = this;
  conn->address = address;
  conn->host = host;
  live_.push_back(conn);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || !found) {
    conn->failed = true;
    conn->errorCode = "ENOTFOUND";
    conn->errorMessage = "getaddrinfo ENOTFOUND " + host;
    return conn;
  }
  conn->fd = socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int connected = conn->fd < 0 ? -1 : connect(conn->fd, found->ai_addr, found->ai_addrlen);
  int err = errno;
  freeaddrinfo(found);
  if (conn->fd < 0 || (connected < 0 && err != EINPROGRESS)) {
    conn->failed = true;
    conn->errorCode = ErrorName(err);
    conn->errorMessage = "connect " + conn->errorCode + " " + address;
    return conn;
  }
  int one = 1;
  setsockopt(conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT;
  event.data.ptr = conn;
  epoll_ctl(epoll_, EPOLL_CTL_ADD, conn->fd, &event);
  nghttp2_session_client_new(&conn->session, callbacks_, conn);
  // The owner streams whole blocks: a window of a few of them, per call and for the connection.
  nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}, {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(receiveWindow_)}};
  nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, settings, 2);
  nghttp2_session_set_local_window_size(conn->session, NGHTTP2_FLAG_NONE, 0, receiveWindow_);
  conns_[address] = conn;
  return conn;
}

void H2Client::Connected(Conn* conn) {
  int err = 0;
  socklen_t size = sizeof err;
  if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &err, &size) < 0) err = errno;
  if (err != 0) {
    std::string code = ErrorName(err);
    return FailConn(conn, code, "connect " + code + " " + conn->address);
  }
  if (!tls_) return Opened(conn);
  conn->ssl = tls_->Open(conn->fd, conn->host);
  if (!conn->ssl) return FailConn(conn, "ERR_TLS_SETUP", "TLS cannot be set up for " + conn->host);
  conn->handshaking = true;
  Handshake(conn);
}

void H2Client::Handshake(Conn* conn) {
  IoResult step = TlsHandshake(conn->ssl);
  switch (step.status) {
    case IoStatus::kDone:
      conn->handshaking = false;
      return Opened(conn);
    case IoStatus::kWantRead:
    case IoStatus::kWantWrite:
      return Watch(conn, step.status == IoStatus::kWantWrite);
    case IoStatus::kClosed:
      // As node words a server that drops a client during setup (src/rpc/grpc-errors.ts).
      return FailConn(conn, "ECONNRESET", "the peer closed the connection during the TLS handshake");
    case IoStatus::kFailed:
      return FailConn(conn, step.code, step.message);
  }
}

void H2Client::Opened(Conn* conn) {
  conn->connected = true;
  Flush(conn);
}

void H2Client::Watch(Conn* conn, bool out) {
  if (out == conn->watchingOut) return;
  conn->watchingOut = out;
  epoll_event event{};
  event.events = EPOLLIN | (out ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  event.data.ptr = conn;
  epoll_ctl(epoll_, EPOLL_CTL_MOD, conn->fd, &event);
}

// Up to a read buffer's worth: the socket's bytes, or with TLS one record's plaintext.
IoResult H2Client::Receive(Conn* conn) {
  if (conn->ssl) return TlsRead(conn->ssl, readBuffer_.data(), readBuffer_.size());
  ssize_t n;
  do n = recv(conn->fd, readBuffer_.data(), readBuffer_.size(), 0);
  while (n < 0 && errno == EINTR);
  return SocketOutcome(n, IoStatus::kWantRead, "read");
}

IoResult H2Client::Send(Conn* conn, const char* data, size_t length) {
  if (conn->ssl) return TlsWrite(conn->ssl, data, length);
  ssize_t n;
  do n = send(conn->fd, data, length, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return SocketOutcome(n, IoStatus::kWantWrite, "write");
}

void H2Client::Flush(Conn* conn) {
  if (!conn->connected || conn->failed) return;
  for (;;) {
    if (conn->outAt == conn->out.size()) {
      conn->out.clear();
      conn->outAt = 0;
      const uint8_t* data;
      ssize_t n = 0;
      while (conn->out.size() < kOutputBatchBytes && (n = nghttp2_session_mem_send(conn->session, &data)) > 0) {
        conn->out.append(reinterpret_cast<const char*>(data), n);
      }
      if (n < 0) return FailConn(conn, "ERR_HTTP2_SESSION_ERROR", nghttp2_strerror(static_cast<int>(n)));
      if (conn->out.empty()) break;
    }
    IoResult sent = Send(conn, conn->out.data() + conn->outAt, conn->out.size() - conn->outAt);
    if (sent.status == IoStatus::kWantWrite || sent.status == IoStatus::kWantRead) break;
    if (sent.status == IoStatus::kClosed) return FailConn(conn, "", "");
    if (sent.status == IoStatus::kFailed) return FailConn(conn, sent.code, sent.message);
    conn->outAt += sent.bytes;
  }
  Watch(conn, conn->outAt < conn->out.size() || conn->readWantsWrite);
  if (!nghttp2_session_want_read(conn->session) && !nghttp2_session_want_write(conn->session)) FailConn(conn, "", "");
}

// A plain socket is read a few times a turn (epoll tells of the rest); TLS
// until it wants the socket, as plaintext it has read already is no event.
void H2Client::ReadFrom(Conn* conn) {
  conn->readWantsWrite = false;
  for (int reads = 0; !conn->failed && (conn->ssl || reads < 8); reads++) {
    IoResult got = Receive(conn);
    if (got.status == IoStatus::kDone) {
      ssize_t taken = nghttp2_session_mem_recv(conn->session, readBuffer_.data(), got.bytes);
      if (taken < 0) return FailConn(conn, "ERR_HTTP2_SESSION_ERROR", nghttp2_strerror(static_cast<int>(taken)));
      if (!conn->ssl && got.bytes < readBuffer_.size()) break;
      continue;
    }
    conn->readWantsWrite = got.status == IoStatus::kWantWrite;
    if (got.status == IoStatus::kWantRead || got.status == IoStatus::kWantWrite) break;
    if (got.status == IoStatus::kClosed) return FailConn(conn, "", "");
    return FailConn(conn, got.code, got.message);
  }
  if (!conn->failed) Flush(conn);
}

// The connection is over (code empty: the peer closed it): its calls end, it takes no more.
void H2Client::FailConn(Conn* conn, const std::string& code, const std::string& message) {
  if (conn->failed) return;
  conn->failed = true;
  conn->errorCode = code;
  conn->errorMessage = message;
  Retire(conn);
  for (auto& [stream, job] : conn->streams) {
    if (!job->reported) Complete(job.get(), Ended(job.get(), NGHTTP2_NO_ERROR));
  }
}

// New calls to its address go on a new connection from now on; the calls it has go on.
void H2Client::Retire(Conn* conn) {
  auto mapped = conns_.find(conn->address);
  if (mapped != conns_.end() && mapped->second == conn) conns_.erase(mapped);
}

void H2Client::Drop(Conn* conn) {
  Retire(conn);
  for (size_t i = 0; i < live_.size(); i++) {
    if (live_[i] == conn) {
      live_[i] = live_.back();
      live_.pop_back();
      break;
    }
  }
  if (conn->fd >= 0) epoll_ctl(epoll_, EPOLL_CTL_DEL, conn->fd, nullptr);
  delete conn;
}

// How a call whose stream closed (or whose connection ended) went: as src/rpc/grpc-call.ts decides it.
CallResult H2Client::Ended(Job* job, uint32_t errorCode) {
  CallResult result;
  result.id = job->call.id;
  Conn* conn = job->conn;
  if (!job->hasStatus) {
    if (errorCode != NGHTTP2_NO_ERROR) {
      result.end = CallEnd::kConnection;
      result.code = "ERR_HTTP2_STREAM_ERROR";
      result.message = std::string("Stream closed with error code ") + nghttp2_http2_strerror(errorCode);
    } else if (conn && !conn->errorCode.empty()) {
      result.end = CallEnd::kConnection;
      result.code = conn->errorCode;
      result.message = conn->errorMessage;
    } else if (!job->responded) {
      result.end = CallEnd::kConnection;
      result.code = "ECONNRESET";
      result.message = "closed";
    } else {
      result.end = CallEnd::kNoStatus;
    }
    return result;
  }
  if (job->grpcStatus != "0") {
    result.end = CallEnd::kStatus;
    result.grpcStatus = job->grpcStatus;
    result.grpcMessage = job->grpcMessage;
    return result;
  }
  if (!job->assembler.Finish()) {
    result.end = CallEnd::kBadBlock;
    result.message = job->assembler.error();
    return result;
  }
  result.end = CallEnd::kOk;
  result.crc32c = job->assembler.crc32c();
  result.encoding = job->assembler.encoding();
  result.wireBytes = job->assembler.wireBytes();
  return result;
}

// Reports the call; a stream still open is cancelled, and nothing it brings is written anywhere.
void H2Client::Complete(Job* job, CallResult result, bool closing) {
  job->reported = true;
  jobs_.erase(job->call.id);
  Conn* conn = job->conn;
  // Cancelled whether or not its HEADERS went out yet (nghttp2 drops a request still queued).
  if (conn && !conn->failed && job->streamId > 0 && !closing) nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, job->streamId, NGHTTP2_CANCEL);
  done_(std::move(result));
}

void H2Client::ExpireJobs() {
  int64_t now = NowMs();
  std::vector<Job*> late;
  for (auto& [id, job] : jobs_) {
    if (job->deadline <= now) late.push_back(job);
  }
  for (Job* job : late) {
    CallResult result;
    result.id = job->call.id;
    result.end = CallEnd::kTimeout;
    Complete(job, std::move(result));
  }
}

int H2Client::NextTimeoutMs() const {
  int64_t next = INT64_MAX;
  for (auto& [id, job] : jobs_) next = std::min(next, job->deadline);
  if (next == INT64_MAX) return -1;
  return static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(next - NowMs() + 1, INT_MAX)));
}

int H2Client::OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name, size_t nameLength, const uint8_t* value, size_t valueLength, uint8_t, void*) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  auto* job = static_cast<Job*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
  if (!job || job->reported || job->hasStatus) return 0;
  std::string header(reinterpret_cast<const char*>(name), nameLength);
  if (header == "grpc-status") {
    job->statusSeen = true;
    job->grpcStatus.assign(reinterpret_cast<const char*>(value), valueLength);
  } else if (header == "grpc-message") {
    job->grpcMessage.assign(reinterpret_cast<const char*>(value), valueLength);
  }
  return 0;
}

int H2Client::OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  auto* conn = static_cast<Conn*>(user);
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    // Calls it has taken go on; new ones go on a new connection.
    conn->client->Retire(conn);
    return 0;
  }
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  auto* job = static_cast<Job*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
  if (!job || job->reported) return 0;
  if (frame->headers.cat == NGHTTP2_HCAT_RESPONSE) job->responded = true;
  if (job->statusSeen) job->hasStatus = true;
  if (!job->hasStatus) job->grpcMessage.clear();
  return 0;
}

int H2Client::OnDataChunk(nghttp2_session* session, uint8_t, int32_t stream, const uint8_t* data, size_t length, void* user) {
  auto* job = static_cast<Job*>(nghttp2_session_get_stream_user_data(session, stream));
  // A reported call's target belongs to JavaScript again: whatever still comes for it is dropped.
  if (!job || job->reported || job->assembler.Write(data, length)) return 0;
  CallResult result;
  result.id = job->call.id;
  result.end = CallEnd::kBadBlock;
  result.message = job->assembler.error();
  static_cast<Conn*>(user)->client->Complete(job, std::move(result));
  return 0;
}

int H2Client::OnStreamClose(nghttp2_session* session, int32_t stream, uint32_t errorCode, void* user) {
  auto* conn = static_cast<Conn*>(user);
  auto owned = conn->streams.find(stream);
  if (owned == conn->streams.end()) return 0;
  Job* job = owned->second.get();
  if (!job->reported && errorCode == NGHTTP2_REFUSED_STREAM && !job->responded && job->refusals < kMaxRefusals) {
    // Not processed (RFC 9113, 8.7): calls sent before the owner's SETTINGS
    // came passed its limit of calls at once. Sent again, it waits its turn.
    job->refusals++;
    job->conn = nullptr;
    job->streamId = 0;
    job->bodySent = 0;
    job->statusSeen = false;
    job->grpcMessage.clear();
    conn->client->refused_.push_back(std::move(owned->second));
    conn->streams.erase(owned);
    return 0;
  }
  if (!job->reported) conn->client->Complete(job, conn->client->Ended(job, errorCode), true);
  conn->streams.erase(owned);
  return 0;
}

ssize_t H2Client::ReadBody(nghttp2_session*, int32_t, uint8_t* buffer, size_t length, uint32_t* flags, nghttp2_data_source* source, void*) {
  auto* job = static_cast<Job*>(source->ptr);
  size_t n = std::min(length, job->call.body.size() - job->bodySent);
  std::memcpy(buffer, job->call.body.data() + job->bodySent, n);
  job->bodySent += n;
  if (job->bodySent == job->call.body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

}  // namespace cachalot
