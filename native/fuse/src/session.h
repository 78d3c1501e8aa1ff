// One FUSE mount: the kernel connection (/dev/fuse), the thread that reads
// it, and the queue that carries each request to JavaScript.
//
// libfuse is used to mount and unmount only (its mount helpers know
// fusermount3 and the mount options). The protocol itself is spoken here:
// libfuse 3.14 answers INIT itself and knows no FUSE passthrough (7.40).
#pragma once

#include <node_api.h>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

struct fuse_session;

namespace cachalot {

// The largest write the kernel may send (INIT's max_write) and so, with a
// page for the headers, the read buffer of the loop thread. Reads are
// limited by the same figure (max_pages), and fewer, larger requests are
// what makes FUSE cheap.
constexpr uint32_t kMaxWrite = 1u << 20;
constexpr size_t kRequestBufferSize = kMaxWrite + 4096;

// Operation codes seen by the JavaScript dispatcher (src/fuse/native-fuse.ts).
enum class Op : int32_t {
  kLookup = 1,
  kForget = 2,
  kGetattr = 3,
  kOpen = 4,
  kRead = 5,
  kRelease = 6,
  kOpendir = 7,
  kReaddir = 8,
  kReleasedir = 9,
  kStatfs = 10,
  kInit = 98,   // INIT answered: size = the minor version in use, ino = passthrough (PassthroughState)
  kEnded = 99,  // the connection ended: unmounted, from here or outside
};

// What INIT settled about passthrough (reported with kInit).
enum PassthroughState : uint32_t {
  kPassthroughOff = 0,        // not asked for (--no-passthrough)
  kPassthroughOn = 1,         // negotiated: open replies may name a backing file
  kPassthroughNoKernel = 2,   // the kernel does not offer it (older than 6.9, or built without it)
};

// One kernel request on its way from the loop thread to JavaScript.
struct Request {
  Op op;
  uint64_t unique = 0;  // 0 for requests that take no reply (forget) and for kInit/kEnded
  uint64_t ino = 0;
  uint64_t fh = 0;
  uint64_t size = 0;  // read/readdir size, forget nlookup, open flags
  int64_t offset = 0;
  std::string name;  // lookup
};

struct Session {
  fuse_session* se = nullptr;  // libfuse's, for mount and unmount only
  int fd = -1;                 // /dev/fuse
  bool wantPassthrough = false;
  std::string mountpoint;
  std::thread loop;
  napi_threadsafe_function tsfn = nullptr;
  napi_ref self = nullptr;  // keeps the JS handle (and this struct) alive while the tsfn lives
  bool unmounted = false;   // set on the JS thread; later replies are no-ops
  // Requests handed to JavaScript and not answered yet, by id. Touched only
  // on the JS thread, so a reply for an unknown or answered id is refused
  // instead of answering a kernel request twice.
  std::vector<uint64_t> inFlight;
  std::vector<uint32_t> freeIds;

  // Replies being written by worker threads: the session is freed only after
  // the last (destroy() waits for them).
  uint32_t repliesInFlight = 0;
  bool releaseWhenWritten = false;
  void replyStarted() { repliesInFlight++; }
  void replyWritten();
  // Lets the threadsafe function go, which frees the session once it drains.
  void release();

  uint32_t track(uint64_t unique);
  // Takes the request for a reply; 0 when the id is not in flight.
  uint64_t take(uint32_t id);
  // Posts a request to JavaScript; called on the loop thread.
  void post(Request* request);
};

// Registers mount/destroy on exports.
napi_value InitSession(napi_env env, napi_value exports);
// Registers the reply* functions on exports.
napi_value InitReplies(napi_env env, napi_value exports);
// Registers backingOpen/backingClose on exports.
napi_value InitPassthrough(napi_env env, napi_value exports);

// Serves one request read from the connection: answers it here, or posts it
// to JavaScript. Called on the loop thread; `bytes` is reused after it returns.
void HandleRequest(Session* s, const char* bytes, size_t length);

// Reads the Session behind a JS handle (an external); throws and returns null on a bad handle.
Session* SessionOf(napi_env env, napi_value handle);

}  // namespace cachalot
