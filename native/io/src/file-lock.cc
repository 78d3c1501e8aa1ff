// tryLock(fd): takes an exclusive flock(2) on an open file without waiting;
// true when taken, false when another open file description holds it. The
// kernel drops the lock when the last descriptor of the open file closes,
// so a process killed with SIGKILL frees it at once (before its parent reaps
// it), where a pid in a file would still name a zombie or a reused pid.
// Node has no flock; src/dir-lock.ts is its one user.
#include <sys/file.h>

#include <cerrno>
#include <cstring>

#include "io.h"

namespace {

napi_value TryLock(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "EINVAL", "tryLock(fd: number)");
    return nullptr;
  }
  int result;
  do {
    result = flock(fd, LOCK_EX | LOCK_NB);
  } while (result != 0 && errno == EINTR);
  if (result != 0 && errno != EWOULDBLOCK) {
    const int error = errno;
    const char* code = error == EBADF ? "EBADF" : error == ENOLCK ? "ENOLCK" : "EINVAL";
    napi_throw_error(env, code, std::strerror(error));
    return nullptr;
  }
  napi_value taken;
  napi_get_boolean(env, result == 0, &taken);
  return taken;
}

}  // namespace

napi_value TryLockFunction(napi_env env) {
  napi_value fn;
  napi_create_function(env, "tryLock", NAPI_AUTO_LENGTH, TryLock, nullptr, &fn);
  return fn;
}
