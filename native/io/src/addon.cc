// cachalot_io: memory for block I/O (native/README.md).
#include "io.h"

namespace {

napi_value Init(napi_env env, napi_value exports) {
  napi_set_named_property(env, exports, "alignedBuffer", AlignedBufferFunction(env));
  napi_set_named_property(env, exports, "crc32c", Crc32cFunction(env));
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
