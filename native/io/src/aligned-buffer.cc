// alignedBuffer(size, alignment): a Buffer whose memory starts on an
// `alignment` boundary. O_DIRECT reads and writes need page-aligned memory,
// and Node cannot allocate it: a large Buffer comes from malloc, 16 bytes past
// a page boundary. The memory is freed when the Buffer is collected.
#include "io.h"

#include <cstdint>
#include <cstdlib>

namespace {

void Free(napi_env env, void* data, void* hint) {
  std::free(data);
  int64_t adjusted;
  napi_adjust_external_memory(env, -static_cast<int64_t>(reinterpret_cast<uintptr_t>(hint)), &adjusted);
}

napi_value AlignedBuffer(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  double size = 0, alignment = 0;
  if (argc < 2 || napi_get_value_double(env, argv[0], &size) != napi_ok ||
      napi_get_value_double(env, argv[1], &alignment) != napi_ok || size < 1 || alignment < sizeof(void*)) {
    napi_throw_range_error(env, "EINVAL", "alignedBuffer(size >= 1, alignment >= 8)");
    return nullptr;
  }
  void* data = nullptr;
  if (posix_memalign(&data, static_cast<size_t>(alignment), static_cast<size_t>(size)) != 0) {
    napi_throw_error(env, "ENOMEM", "alignedBuffer: out of memory");
    return nullptr;
  }
  napi_value buffer;
  if (napi_create_external_buffer(env, static_cast<size_t>(size), data, Free,
                                  reinterpret_cast<void*>(static_cast<uintptr_t>(size)), &buffer) != napi_ok) {
    std::free(data);
    napi_throw_error(env, "ENOMEM", "alignedBuffer: cannot wrap the memory");
    return nullptr;
  }
  // V8 paces garbage collection by external memory it is told about.
  int64_t adjusted;
  napi_adjust_external_memory(env, static_cast<int64_t>(size), &adjusted);
  return buffer;
}

}  // namespace

napi_value AlignedBufferFunction(napi_env env) {
  napi_value fn;
  napi_create_function(env, "alignedBuffer", NAPI_AUTO_LENGTH, AlignedBuffer, nullptr, &fn);
  return fn;
}
