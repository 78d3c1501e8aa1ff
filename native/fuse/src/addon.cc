// cachalot_fuse: a thin N-API binding of libfuse3's low-level interface.
// Why not fuse-native: it speaks libfuse2, whose reads arrive 128 KiB at a
// time and each crosses two threads; libfuse3 negotiates 1 MiB requests
// (max_pages) and here a reply is written to /dev/fuse straight from the JS
// thread. docs/BENCHMARKS.md has the measurement.
#include "session.h"

namespace cachalot {

napi_value Init(napi_env env, napi_value exports) {
  InitSession(env, exports);
  InitReplies(env, exports);
  return exports;
}

}  // namespace cachalot

NAPI_MODULE(NODE_GYP_MODULE_NAME, cachalot::Init)
