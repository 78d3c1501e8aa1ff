// addressOf(buffer) and bufferAt(address, length): the same memory seen from
// two threads. The peer client's receiving thread writes a block straight
// into the event loop's pooled buffer: a SharedArrayBuffer would do, but V8
// copies into shared memory with relaxed atomics, byte by byte (perf: 16% of
// the thread), and the pool's memory is page-aligned native memory anyway.
// The caller keeps the memory alive and unwritten by anyone else while the
// other thread uses it; the view frees nothing.
#include "io.h"

#include <cstdint>

namespace {

napi_value AddressOf(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  void* data = nullptr;
  size_t length = 0;
  bool is_buffer = false;
  if (argc < 1 || napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[0], &data, &length) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "addressOf(buffer)");
    return nullptr;
  }
  napi_value address;
  napi_create_bigint_uint64(env, reinterpret_cast<uintptr_t>(data), &address);
  return address;
}

napi_value BufferAt(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  uint64_t address = 0;
  bool lossless = false;
  double length = 0;
  if (argc < 2 || napi_get_value_bigint_uint64(env, argv[0], &address, &lossless) != napi_ok || !lossless || address == 0 ||
      napi_get_value_double(env, argv[1], &length) != napi_ok || length < 1) {
    napi_throw_range_error(env, "EINVAL", "bufferAt(address > 0n, length >= 1)");
    return nullptr;
  }
  napi_value buffer;
  if (napi_create_external_buffer(env, static_cast<size_t>(length), reinterpret_cast<void*>(address), nullptr, nullptr, &buffer) != napi_ok) {
    napi_throw_error(env, "EINVAL", "bufferAt: cannot wrap the memory");
    return nullptr;
  }
  return buffer;
}

}  // namespace

napi_value AddressOfFunction(napi_env env) {
  napi_value fn;
  napi_create_function(env, "addressOf", NAPI_AUTO_LENGTH, AddressOf, nullptr, &fn);
  return fn;
}

napi_value BufferAtFunction(napi_env env) {
  napi_value fn;
  napi_create_function(env, "bufferAt", NAPI_AUTO_LENGTH, BufferAt, nullptr, &fn);
  return fn;
}
