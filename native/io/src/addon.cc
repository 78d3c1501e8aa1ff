// cachalot_io: memory, checksums, file ranges and file locks for block I/O (native/README.md).
#include "io.h"

namespace {

napi_value Init(napi_env env, napi_value exports) {
  napi_set_named_property(env, exports, "alignedBuffer", AlignedBufferFunction(env));
  napi_set_named_property(env, exports, "crc32c", Crc32cFunction(env));
  napi_set_named_property(env, exports, "crc32cOfRange", Crc32cOfRangeFunction(env));
  napi_set_named_property(env, exports, "punchHole", PunchHoleFunction(env));
  napi_set_named_property(env, exports, "readAhead", ReadAheadFunction(env));
  napi_set_named_property(env, exports, "tryLock", TryLockFunction(env));
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
