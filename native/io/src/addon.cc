// cachalot_io: memory and checksums for block I/O, and file locks (native/README.md).
#include "io.h"

namespace {

napi_value Init(napi_env env, napi_value exports) {
  napi_set_named_property(env, exports, "alignedBuffer", AlignedBufferFunction(env));
  napi_set_named_property(env, exports, "crc32c", Crc32cFunction(env));
  napi_set_named_property(env, exports, "tryLock", TryLockFunction(env));
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
