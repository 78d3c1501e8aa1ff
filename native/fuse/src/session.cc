// Mount, the loop thread, and teardown.
//
// Lifetime: mount() returns an external that owns the Session. The
// threadsafe function holds a reference to that external until it is
// finalized, so the Session outlives every queued request. The loop thread
// ends when the kernel connection ends (an unmount from here or from outside);
// it then posts Op::kEnded, and JavaScript calls destroy(), which stops replies,
// releases the threadsafe function, and lets its finalizer unmount and free
// libfuse's session. Replies after that are refused: the /dev/fuse
// descriptor is closed and its number may already belong to another file.
#include <fuse_lowlevel.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <memory>
#include <mutex>

#include "napi-util.h"
#include "reply-writer.h"
#include "session.h"

namespace cachalot {
namespace {

// libfuse says why a mount failed only in its log; the last line becomes the error.
std::mutex logMutex;
std::string lastLogLine;

void CaptureLog(fuse_log_level, const char* format, va_list ap) {
  char line[512];
  vsnprintf(line, sizeof line, format, ap);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::lock_guard<std::mutex> lock(logMutex);
  lastLogLine = text;
}

std::string TakeLastLog(const char* fallback) {
  std::lock_guard<std::mutex> lock(logMutex);
  std::string out = lastLogLine.empty() ? fallback : lastLogLine;
  lastLogLine.clear();
  return out;
}

void CallJs(napi_env env, napi_value dispatch, void* context, void* data) {
  auto* s = static_cast<Session*>(context);
  std::unique_ptr<Request> r(static_cast<Request*>(data));
  // A request queued behind the end of the session is dropped unanswered:
  // its connection is gone (see the lifetime note above).
  if (env == nullptr || s->unmounted) return;
  uint32_t id = r->unique ? s->track(r->unique) : 0;
  napi_value args[7];
  napi_create_int32(env, static_cast<int32_t>(r->op), &args[0]);
  napi_create_uint32(env, id, &args[1]);
  napi_create_double(env, static_cast<double>(r->ino), &args[2]);
  napi_create_double(env, static_cast<double>(r->fh), &args[3]);
  napi_create_double(env, static_cast<double>(r->size), &args[4]);
  napi_create_double(env, static_cast<double>(r->offset), &args[5]);
  if (r->op == Op::kLookup) {
    napi_create_string_utf8(env, r->name.data(), r->name.size(), &args[6]);
  } else {
    napi_get_undefined(env, &args[6]);
  }
  napi_value global;
  napi_get_global(env, &global);
  napi_call_function(env, global, dispatch, 7, args, nullptr);
}

// Reads requests until the connection ends. A read fails with ENOENT when
// the request it would have returned was interrupted, and with ENODEV once
// the filesystem is unmounted.
void ServeConnection(Session* s) {
  std::vector<char> buffer(kRequestBufferSize);
  for (;;) {
    ssize_t n = read(s->fd, buffer.data(), buffer.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == ENOENT)) continue;
    if (n <= 0) break;
    HandleRequest(s, buffer.data(), static_cast<size_t>(n));
  }
  s->post(new Request{Op::kEnded, 0, 0, 0, 0, 0, {}});
}

void FinalizeTsfn(napi_env env, void* data, void*) {
  auto* s = static_cast<Session*>(data);
  if (s->loop.joinable()) s->loop.join();
  fuse_session_unmount(s->se);
  fuse_session_destroy(s->se);
  s->se = nullptr;
  s->fd = -1;
  napi_delete_reference(env, s->self);
}

void DeleteSession(napi_env, void* data, void*) { delete static_cast<Session*>(data); }

// mount(mountpoint: string, options: string, dispatch: Function, passthrough: boolean) -> handle
napi_value Mount(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 4) return Throw(env, "mount(mountpoint, options, dispatch, passthrough)");
  bool ok = true;
  std::string mountpoint = StringArg(env, argv[0], ok);
  std::string options = StringArg(env, argv[1], ok);
  if (!ok) return nullptr;
  bool passthrough = false;
  napi_get_value_bool(env, argv[3], &passthrough);

  fuse_set_log_func(CaptureLog);
  TakeLastLog("");
  const char* args[] = {"cachalot", "-o", options.c_str()};
  fuse_args fargs = FUSE_ARGS_INIT(3, const_cast<char**>(args));
  // No operations: libfuse mounts and unmounts; the requests are read here.
  fuse_lowlevel_ops none{};
  auto* s = new Session();
  s->mountpoint = mountpoint;
  s->wantPassthrough = passthrough;
  s->se = fuse_session_new(&fargs, &none, sizeof none, s);
  fuse_opt_free_args(&fargs);
  if (s->se == nullptr) {
    delete s;
    return Throw(env, TakeLastLog("fuse: cannot create a session"));
  }
  if (fuse_session_mount(s->se, mountpoint.c_str()) != 0) {
    fuse_session_destroy(s->se);
    delete s;
    return Throw(env, TakeLastLog("fuse: mount failed"));
  }
  s->fd = fuse_session_fd(s->se);

  napi_value handle, name;
  napi_create_external(env, s, DeleteSession, nullptr, &handle);
  napi_create_reference(env, handle, 1, &s->self);
  napi_create_string_utf8(env, "cachalot-fuse", NAPI_AUTO_LENGTH, &name);
  napi_create_threadsafe_function(env, argv[2], nullptr, name, 0, 1, s, FinalizeTsfn, s, CallJs, &s->tsfn);
  s->loop = std::thread(ServeConnection, s);
  return handle;
}

// destroy(handle): after Op::kEnded. Stops replies and frees the session.
napi_value Destroy(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Session* s = argc == 1 ? SessionOf(env, argv[0]) : nullptr;
  if (s == nullptr || s->unmounted) return nullptr;
  s->unmounted = true;
  s->inFlight.clear();
  s->freeIds.clear();
  if (s->repliesInFlight > 0) {
    s->releaseWhenWritten = true;
  } else {
    s->release();
  }
  return nullptr;
}

}  // namespace

void Session::replyWritten() {
  if (--repliesInFlight == 0 && releaseWhenWritten) release();
}

void Session::release() { napi_release_threadsafe_function(tsfn, napi_tsfn_release); }

uint32_t Session::track(uint64_t unique) {
  if (freeIds.empty()) {
    inFlight.push_back(unique);
    return static_cast<uint32_t>(inFlight.size());  // ids start at 1: 0 means "no request"
  }
  uint32_t id = freeIds.back();
  freeIds.pop_back();
  inFlight[id - 1] = unique;
  return id;
}

uint64_t Session::take(uint32_t id) {
  if (unmounted || id == 0 || id > inFlight.size() || inFlight[id - 1] == 0) return 0;
  uint64_t unique = inFlight[id - 1];
  inFlight[id - 1] = 0;
  freeIds.push_back(id);
  return unique;
}

void Session::post(Request* request) {
  if (napi_call_threadsafe_function(tsfn, request, napi_tsfn_nonblocking) == napi_ok) return;
  // Only when the queue is closing; the loop thread still owns the connection.
  if (request->unique) WriteError(fd, request->unique, EIO);
  delete request;
}

Session* SessionOf(napi_env env, napi_value handle) {
  void* data = nullptr;
  if (napi_get_value_external(env, handle, &data) != napi_ok || data == nullptr) {
    Throw(env, "not a fuse session handle");
    return nullptr;
  }
  return static_cast<Session*>(data);
}

napi_value InitSession(napi_env env, napi_value exports) {
  Export(env, exports, "mount", Mount);
  Export(env, exports, "destroy", Destroy);
  return exports;
}

}  // namespace cachalot
