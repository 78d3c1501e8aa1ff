// One FUSE mount: the libfuse3 low-level session, the thread that reads
// /dev/fuse, and the queue that carries each request to JavaScript.
#pragma once

#include <fuse_lowlevel.h>
#include <node_api.h>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace cachalot {

// Operation codes seen by the JavaScript dispatcher (src/fuse/native-fuse.ts).
enum Op : int32_t {
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
  kEnded = 99,  // the session loop returned: unmounted, from here or outside
};

// One kernel request on its way from the loop thread to JavaScript.
struct Request {
  Op op;
  fuse_req_t req = nullptr;  // null for requests already answered (forget) and kEnded
  uint64_t ino = 0;
  uint64_t fh = 0;
  uint64_t size = 0;  // read/readdir size, forget nlookup, open flags
  int64_t offset = 0;
  std::string name;  // lookup
};

struct Session {
  fuse_session* se = nullptr;
  std::string mountpoint;
  std::thread loop;
  napi_threadsafe_function tsfn = nullptr;
  napi_ref self = nullptr;  // keeps the JS handle (and this struct) alive while the tsfn lives
  bool unmounted = false;   // set on the JS thread; later replies are no-ops
  // Requests handed to JavaScript and not answered yet, by id. Touched only
  // on the JS thread, so a reply for an unknown or answered id is refused
  // instead of freeing a fuse_req twice.
  std::vector<fuse_req_t> inFlight;
  std::vector<uint32_t> freeIds;

  // Replies being written by worker threads: the session is freed only after
  // the last (destroy() waits for them).
  uint32_t repliesInFlight = 0;
  bool releaseWhenWritten = false;
  void replyStarted() { repliesInFlight++; }
  void replyWritten();
  // Lets the threadsafe function go, which frees the session once it drains.
  void release();

  uint32_t track(fuse_req_t req);
  // Takes the request for a reply; null when the id is not in flight.
  fuse_req_t take(uint32_t id);
  // Posts a request to JavaScript; called on the loop thread.
  void post(Request* request);
};

// Registers mount/unmount on exports.
napi_value InitSession(napi_env env, napi_value exports);
// Registers the reply* functions on exports.
napi_value InitReplies(napi_env env, napi_value exports);
// The low-level operations, each of which posts a Request.
extern const fuse_lowlevel_ops kLowlevelOps;

// Reads the Session behind a JS handle (an external); throws and returns null on a bad handle.
Session* SessionOf(napi_env env, napi_value handle);

}  // namespace cachalot
