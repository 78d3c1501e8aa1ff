#include "init-negotiation.h"

#include <algorithm>
#include <cerrno>

#include "reply-writer.h"

namespace cachalot {
namespace {

using namespace kernel;

// What libfuse 3 asks for by default, which the mounts relied on before this
// binding spoke INIT itself: parallel and asynchronous reads and lookups,
// 1 MiB requests, page cache dropped when a file's size or mtime changes.
constexpr uint64_t kWanted = kAsyncRead | kAtomicOTrunc | kBigWrites | kAutoInvalData | kAsyncDio | kParallelDirops | kMaxPages;

// Readahead requests are "background" requests; the kernel's default of 12
// in flight starves a daemon that fetches blocks in parallel.
constexpr uint16_t kMaxBackground = 64;
constexpr uint16_t kCongestionThreshold = 48;

}  // namespace

void AnswerInit(Session* s, uint64_t unique, const InitIn& in) {
  if (in.major != kMajor || in.minor < kMinMinor) {
    WriteError(s->fd, unique, EPROTO);
    return;
  }
  uint64_t offered = in.flags;
  if (offered & kInitExt) offered |= static_cast<uint64_t>(in.flags2) << 32;
  uint64_t wanted = kWanted;
  PassthroughState passthrough = kPassthroughOff;
  // Passthrough needs the kernel to offer it (Linux 6.9+), which it does
  // only with INIT_EXT, and a stack depth: 1 lets the backing files live on
  // any plain filesystem (not another stacked one, such as overlayfs).
  if (s->wantPassthrough) {
    passthrough = (offered & kPassthrough) ? kPassthroughOn : kPassthroughNoKernel;
    if (passthrough == kPassthroughOn) wanted |= kInitExt | kPassthrough;
  }
  uint64_t flags = wanted & offered;
  InitOut out{};
  out.major = kMajor;
  out.minor = std::min(in.minor, kMinor);
  out.max_readahead = in.max_readahead;
  out.flags = static_cast<uint32_t>(flags);
  out.flags2 = static_cast<uint32_t>(flags >> 32);
  out.max_background = kMaxBackground;
  out.congestion_threshold = kCongestionThreshold;
  out.max_write = kMaxWrite;
  out.time_gran = 1;
  out.max_pages = static_cast<uint16_t>(kMaxWrite / 4096);
  out.max_stack_depth = passthrough == kPassthroughOn ? 1 : 0;
  WriteValue(s->fd, unique, out);
  s->dispatchToJs(Request{Op::kInit, 0, passthrough, 0, out.minor, 0, {}});
}

}  // namespace cachalot
