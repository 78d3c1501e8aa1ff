// FUSE passthrough's backing files: a file registered with the connection
// gets an id that an open reply can name (replyOpen's backingId); the kernel
// then serves that open file's reads from the backing file itself, page
// cache and readahead included, without a request to the daemon. The kernel
// keeps its own reference to the file for every open that uses it, so an id
// may be closed once no new open will name it. Registering needs
// CAP_SYS_ADMIN.
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "fuse-kernel.h"
#include "napi-util.h"
#include "session.h"

namespace cachalot {
namespace {

// Throws an Error whose code is the errno's name (EPERM, ELOOP, ...), as node:fs does.
napi_value ThrowErrno(napi_env env, const char* what, int error) {
  const char* name = strerrorname_np(error);
  std::string message = std::string(what) + ": " + strerror(error);
  napi_throw_error(env, name ? name : "EIO", message.c_str());
  return nullptr;
}

// backingOpen(handle, fd) -> backing id (> 0)
napi_value BackingOpen(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Session* s = argc == 2 ? SessionOf(env, argv[0]) : nullptr;
  if (s == nullptr) return nullptr;
  bool ok = true;
  double fd = NumberArg(env, argv[1], ok);
  if (!ok) return nullptr;
  if (s->unmounted) return ThrowErrno(env, "backing open", ENOTCONN);
  kernel::BackingMap map{static_cast<int32_t>(fd), 0, 0};
  int id = ioctl(s->fd, kernel::kDevIocBackingOpen, &map);
  if (id < 0) return ThrowErrno(env, "backing open", errno);
  napi_value out;
  napi_create_int32(env, id, &out);
  return out;
}

// backingClose(handle, id): no error when the session has ended (the kernel dropped every id with it).
napi_value BackingClose(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Session* s = argc == 2 ? SessionOf(env, argv[0]) : nullptr;
  if (s == nullptr) return nullptr;
  bool ok = true;
  uint32_t id = static_cast<uint32_t>(NumberArg(env, argv[1], ok));
  if (!ok || s->unmounted) return nullptr;
  if (ioctl(s->fd, kernel::kDevIocBackingClose, &id) < 0) return ThrowErrno(env, "backing close", errno);
  return nullptr;
}

}  // namespace

napi_value InitPassthrough(napi_env env, napi_value exports) {
  Export(env, exports, "backingOpen", BackingOpen);
  Export(env, exports, "backingClose", BackingClose);
  return exports;
}

}  // namespace cachalot
