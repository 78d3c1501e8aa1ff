// Mount, reading the connection, and teardown.
//
// Lifetime: mount() returns an external that owns the Session, and a
// reference keeps that external alive while libuv polls /dev/fuse. When the
// connection ends (an unmount from here or from outside: read() fails with
// ENODEV), kEnded is dispatched and JavaScript calls destroy(), which stops
// replies and, once the replies still being written by worker threads are
// done, closes the poll handle, unmounts, frees libfuse's session and lets
// the external go. Replies after that are refused: the /dev/fuse descriptor
// is closed and its number may already belong to another file.
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <mutex>

#include "napi-util.h"
#include "reply-writer.h"
#include "session.h"

namespace cachalot {
namespace {

// Requests read per wakeup at most, so that the replies JavaScript makes to
// the first ones go out before a long queue is drained.
constexpr int kRequestsPerWakeup = 64;

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

void EndConnection(Session* s) {
  if (s->ended) return;
  s->ended = true;
  uv_poll_stop(&s->poll);
  s->dispatchToJs(Request{Op::kEnded, 0, 0, 0, 0, 0, {}});
}

// Reads what the kernel has queued. A read fails with EAGAIN when nothing
// is left, ENOENT when the request it would have returned was interrupted,
// and ENODEV once the filesystem is unmounted.
void OnReadable(uv_poll_t* handle, int status, int) {
  auto* s = static_cast<Session*>(handle->data);
  napi_handle_scope handles;
  napi_callback_scope scope;
  napi_value resource;
  napi_open_handle_scope(s->env, &handles);
  napi_get_reference_value(s->env, s->self, &resource);
  // Promises JavaScript settles while serving the requests run when this scope closes, as after any callback.
  napi_open_callback_scope(s->env, resource, s->async, &scope);
  if (status < 0) EndConnection(s);
  for (int i = 0; i < kRequestsPerWakeup && !s->ended; i++) {
    ssize_t n = read(s->fd, s->buffer.data(), s->buffer.size());
    if (n < 0 && (errno == EINTR || errno == ENOENT)) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {
      EndConnection(s);
      break;
    }
    HandleRequest(s, s->buffer.data(), static_cast<size_t>(n));
  }
  napi_close_callback_scope(s->env, scope);
  napi_close_handle_scope(s->env, handles);
}

void OnPollClosed(uv_handle_t* handle) {
  auto* s = static_cast<Session*>(handle->data);
  fuse_session_unmount(s->se);
  fuse_session_destroy(s->se);
  s->se = nullptr;
  s->fd = -1;
  napi_async_destroy(s->env, s->async);
  napi_delete_reference(s->env, s->dispatch);
  // The external, and with it the Session, may now be collected.
  napi_delete_reference(s->env, s->self);
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
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return Throw(env, "fuse: no event loop");

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
  fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
  s->env = env;
  s->buffer.resize(kRequestBufferSize);

  napi_value handle, name;
  napi_create_external(env, s, DeleteSession, nullptr, &handle);
  napi_create_reference(env, handle, 1, &s->self);
  napi_create_reference(env, argv[2], 1, &s->dispatch);
  napi_create_string_utf8(env, "cachalot-fuse", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, handle, name, &s->async);
  uv_poll_init(loop, &s->poll, s->fd);
  s->poll.data = s;
  s->polling = true;
  uv_poll_start(&s->poll, UV_READABLE, OnReadable);
  return handle;
}

// destroy(handle): after kEnded. Stops replies and frees the session.
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

void Session::release() {
  if (!polling) return;
  polling = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&poll), OnPollClosed);
}

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

void Session::dispatchToJs(const Request& r) {
  // A request read after destroy() has no one to answer it: its connection is going.
  if (unmounted) return;
  uint32_t id = r.unique ? track(r.unique) : 0;
  napi_value args[11], fn, global;
  napi_create_int32(env, static_cast<int32_t>(r.op), &args[0]);
  napi_create_uint32(env, id, &args[1]);
  napi_create_double(env, static_cast<double>(r.ino), &args[2]);
  napi_create_double(env, static_cast<double>(r.fh), &args[3]);
  napi_create_double(env, static_cast<double>(r.size), &args[4]);
  napi_create_double(env, static_cast<double>(r.offset), &args[5]);
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  auto text = [&](const std::string& value, napi_value& out) {
    if (value.empty()) out = undefined;
    else napi_create_string_utf8(env, value.data(), value.size(), &out);
  };
  text(r.name, args[6]);
  napi_create_uint32(env, r.flags, &args[7]);
  // The bytes of a write are copied out of the read buffer, which the next request reuses.
  if (r.data) napi_create_buffer_copy(env, r.dataLength, r.data, nullptr, &args[8]);
  else args[8] = undefined;
  text(r.name2, args[9]);
  napi_create_uint32(env, r.pid, &args[10]);
  napi_get_reference_value(env, dispatch, &fn);
  napi_get_global(env, &global);
  if (napi_call_function(env, global, fn, 11, args, nullptr) == napi_pending_exception) {
    // The dispatcher threw: report it as any uncaught error, and answer the kernel so no reader hangs.
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
    if (r.unique && take(id)) WriteError(fd, r.unique, EIO);
  }
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
