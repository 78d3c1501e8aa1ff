// One FUSE mount: the kernel connection (/dev/fuse), read by the JavaScript
// thread itself when libuv sees it readable, each request dispatched to
// JavaScript at once.
//
// libfuse is used to mount and unmount only (its mount helpers know
// fusermount3 and the mount options). The protocol itself is spoken here:
// libfuse 3.14 answers INIT itself and knows no FUSE passthrough (7.40).
//
// No thread of its own: a reader thread handing requests to the JavaScript
// thread cost two wakeups per request (the reader's, then JavaScript's), and
// on a busy machine those context switches were most of the daemon's CPU for
// small files (perf). Here one epoll wakeup reads every request waiting.
#pragma once

#include <node_api.h>

#include <uv.h>

#include <cstdint>
#include <string>
#include <vector>

struct fuse_session;

namespace cachalot {

// The largest write the kernel may send (INIT's max_write) and so, with a
// page for the headers, the size of the buffer requests are read into. Reads are
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
  kCreate = 11,   // ino: parent, name, size: mode, flags: open flags
  kWrite = 12,    // fh, offset, data
  kFlush = 13,    // fh, pid: the process closing a descriptor of the file
  kFsync = 14,    // fh
  kSetattr = 15,  // ino, fh, flags: which fields (FATTR_*), size: the new size with FATTR_SIZE
  kMkdir = 16,    // ino: parent, name, size: mode
  kUnlink = 17,   // ino: parent, name
  kRmdir = 18,    // ino: parent, name
  kRename = 19,   // ino: parent, name, fh: new parent, name2: new name, flags: RENAME_* flags
  kMknod = 20,    // ino: parent, name, size: mode
  kInit = 98,   // INIT answered: size = the minor version in use, ino = passthrough (PassthroughState)
  kEnded = 99,  // the connection ended: unmounted, from here or outside
};

// What INIT settled about passthrough (reported with kInit).
enum PassthroughState : uint32_t {
  kPassthroughOff = 0,        // not asked for (--no-passthrough)
  kPassthroughOn = 1,         // negotiated: open replies may name a backing file
  kPassthroughNoKernel = 2,   // the kernel does not offer it (older than 6.9, or built without it)
};

// One kernel request for JavaScript.
struct Request {
  Op op;
  uint64_t unique = 0;  // 0 for requests that take no reply (forget) and for kInit/kEnded
  uint64_t ino = 0;
  uint64_t fh = 0;
  uint64_t size = 0;  // read/readdir size, forget nlookup, open flags, a mode (see Op)
  int64_t offset = 0;
  std::string name{};  // lookup, create, mkdir, unlink, rmdir, rename, mknod
  uint32_t flags = 0;
  uint32_t pid = 0;
  const char* data = nullptr;  // write: the bytes, in the read buffer (copied when dispatched)
  size_t dataLength = 0;
  std::string name2{};  // rename's new name
};

struct Session {
  fuse_session* se = nullptr;  // libfuse's, for mount and unmount only
  int fd = -1;                 // /dev/fuse
  bool wantPassthrough = false;
  std::string mountpoint;
  napi_env env = nullptr;
  napi_ref dispatch = nullptr;         // the JavaScript dispatcher
  napi_async_context async = nullptr;  // requests run as callbacks of this async resource
  uv_poll_t poll;                      // readable /dev/fuse
  bool polling = false;
  std::vector<char> buffer;            // one request at a time, reused
  napi_ref self = nullptr;  // keeps the JS handle (and this struct) alive until the poll handle is closed
  bool ended = false;       // the connection ended (kEnded dispatched)
  bool unmounted = false;   // destroy() was called; later replies are no-ops
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
  // Stops reading, unmounts and frees libfuse's session; the JS handle may then go.
  void release();

  uint32_t track(uint64_t unique);
  // Takes the request for a reply; 0 when the id is not in flight.
  uint64_t take(uint32_t id);
  // Hands a request to JavaScript; on the JS thread, inside a callback scope.
  void dispatchToJs(const Request& request);
};

// Registers mount/destroy on exports.
napi_value InitSession(napi_env env, napi_value exports);
// Registers the reply* functions on exports.
napi_value InitReplies(napi_env env, napi_value exports);
// Registers backingOpen/backingClose on exports.
napi_value InitPassthrough(napi_env env, napi_value exports);

// Serves one request read from the connection: answers it here, or hands it
// to JavaScript. `bytes` is reused after it returns.
void HandleRequest(Session* s, const char* bytes, size_t length);

// Reads the Session behind a JS handle (an external); throws and returns null on a bad handle.
Session* SessionOf(napi_env env, napi_value handle);

}  // namespace cachalot
