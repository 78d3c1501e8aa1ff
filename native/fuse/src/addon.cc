// cachalot_fuse: the kernel side of a mount. libfuse3 mounts and unmounts;
// the FUSE protocol itself is spoken here (session.h says why), on a thread
// that reads /dev/fuse and hands each request to JavaScript, which answers
// with a reply* that writes to /dev/fuse itself. Reads are negotiated at
// 1 MiB; open files whose bytes are all on the cache disk are handed to the
// kernel (passthrough.cc). Why not fuse-native: native/README.md.
#include "session.h"

namespace cachalot {

napi_value Init(napi_env env, napi_value exports) {
  InitSession(env, exports);
  InitReplies(env, exports);
  InitPassthrough(env, exports);
  return exports;
}

}  // namespace cachalot

NAPI_MODULE(NODE_GYP_MODULE_NAME, cachalot::Init)
