// crc32c(bytes, initial = 0): the CRC32C of a Buffer or Uint8Array appended
// to bytes whose CRC32C was `initial`, as @node-rs/crc32's crc32c computes
// it, several times faster (native/common/crc32c.cc, native/README.md). Every
// block is checksummed when it is fetched and checked when a tier hands it back.
#include "../../common/crc32c.h"
#include "io.h"

namespace {

napi_value Crc32cOf(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  bool typed = false;
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (argc < 1 || napi_is_typedarray(env, argv[0], &typed) != napi_ok || !typed ||
      napi_get_typedarray_info(env, argv[0], &type, &length, &data, nullptr, nullptr) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, "EINVAL", "crc32c(bytes: Uint8Array, initial?: number)");
    return nullptr;
  }
  uint32_t initial = 0;
  if (argc > 1) napi_get_value_uint32(env, argv[1], &initial);
  napi_value crc;
  napi_create_uint32(env, cachalot::Crc32c(initial, static_cast<const uint8_t*>(data), length), &crc);
  return crc;
}

}  // namespace

napi_value Crc32cFunction(napi_env env) {
  napi_value fn;
  napi_create_function(env, "crc32c", NAPI_AUTO_LENGTH, Crc32cOf, nullptr, &fn);
  return fn;
}
