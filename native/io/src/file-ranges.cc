// Work on byte ranges of a cache file, each on a libuv worker thread and
// answered with a promise, so that the JS thread never waits on the disk:
//
// crc32cOfRange(fd, offset, length) -> Promise<number>: the CRC32C of the
//   range, read through the page cache. The disk tier checks an object's
//   blocks with it before the kernel reads the file itself (FUSE
//   passthrough), and the pages read stay cached for that reader.
// punchHole(fd, offset, length) -> Promise<void>: frees the range's disk
//   space, the file's size unchanged (an evicted block of an object file).
// readAhead(fd, offset, length) -> Promise<void>: asks the kernel to read the
//   range (length 0: to the end of the file) into the page cache; resolves
//   once the reads are issued, not done. An object file written past the
//   page cache is then in memory for its next reader, as a local file is
//   after its first read. posix_fadvise WILLNEED reads no more than the
//   device's readahead window per call, so it is asked a window at a time.
#include <fcntl.h>
#include <sys/stat.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <vector>

#include "../../common/crc32c.h"
#include "io.h"

namespace {

// Reads of this size keep the kernel's readahead streaming without a large buffer per call.
constexpr size_t kChunk = 1 << 20;
// Within any device's readahead window (posix_fadvise reads no more per call).
constexpr int64_t kReadAheadStep = 128 << 10;

enum class Kind { kCrc, kPunch, kReadAhead };

struct RangeWork {
  Kind kind;
  int fd;
  int64_t offset;
  int64_t length;
  uint32_t crc = 0;
  int error = 0;  // errno; EIO for a range shorter than asked (the file ends first)
  napi_deferred deferred = nullptr;
  napi_async_work work = nullptr;
};

void Crc(RangeWork* w) {
  std::vector<uint8_t> buffer(kChunk);
  for (int64_t done = 0; done < w->length;) {
    size_t want = static_cast<size_t>(std::min<int64_t>(kChunk, w->length - done));
    ssize_t n = pread(w->fd, buffer.data(), want, w->offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      w->error = n < 0 ? errno : EIO;
      return;
    }
    w->crc = cachalot::Crc32c(w->crc, buffer.data(), static_cast<size_t>(n));
    done += n;
  }
}

void ReadAhead(RangeWork* w) {
  struct stat info;
  if (fstat(w->fd, &info) != 0) {
    w->error = errno;
    return;
  }
  int64_t end = w->length == 0 ? info.st_size : std::min<int64_t>(info.st_size, w->offset + w->length);
  for (int64_t at = w->offset; at < end && w->error == 0; at += kReadAheadStep) {
    w->error = posix_fadvise(w->fd, at, std::min<int64_t>(kReadAheadStep, end - at), POSIX_FADV_WILLNEED);
  }
}

void Execute(napi_env, void* data) {
  auto* w = static_cast<RangeWork*>(data);
  switch (w->kind) {
    case Kind::kCrc:
      Crc(w);
      break;
    case Kind::kPunch:
      if (fallocate(w->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, w->offset, w->length) != 0) w->error = errno;
      break;
    case Kind::kReadAhead:
      ReadAhead(w);
      break;
  }
}

void Complete(napi_env env, napi_status, void* data) {
  auto* w = static_cast<RangeWork*>(data);
  napi_value value;
  if (w->error != 0) {
    napi_value code, message;
    const char* name = strerrorname_np(w->error);
    napi_create_string_utf8(env, name ? name : "EIO", NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, strerror(w->error), NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, code, message, &value);
    napi_reject_deferred(env, w->deferred, value);
  } else {
    if (w->kind == Kind::kCrc) {
      napi_create_uint32(env, w->crc, &value);
    } else {
      napi_get_undefined(env, &value);
    }
    napi_resolve_deferred(env, w->deferred, value);
  }
  napi_delete_async_work(env, w->work);
  delete w;
}

napi_value Start(napi_env env, napi_callback_info info, Kind kind, const char* usage) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t fd = -1;
  int64_t offset = -1, length = -1;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[1], &offset) != napi_ok ||
      napi_get_value_int64(env, argv[2], &length) != napi_ok || fd < 0 || offset < 0 || length < 0) {
    napi_throw_type_error(env, "EINVAL", usage);
    return nullptr;
  }
  auto* w = new RangeWork{kind, fd, offset, length};
  napi_value promise, name;
  napi_create_promise(env, &w->deferred, &promise);
  napi_create_string_utf8(env, "cachalot-file-range", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, nullptr, name, Execute, Complete, w, &w->work);
  napi_queue_async_work(env, w->work);
  return promise;
}

napi_value Crc32cOfRange(napi_env env, napi_callback_info info) {
  return Start(env, info, Kind::kCrc, "crc32cOfRange(fd, offset, length)");
}

napi_value PunchHole(napi_env env, napi_callback_info info) { return Start(env, info, Kind::kPunch, "punchHole(fd, offset, length)"); }

napi_value ReadAhead(napi_env env, napi_callback_info info) { return Start(env, info, Kind::kReadAhead, "readAhead(fd, offset, length)"); }

napi_value Function(napi_env env, const char* name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, nullptr, &fn);
  return fn;
}

}  // namespace

napi_value Crc32cOfRangeFunction(napi_env env) { return Function(env, "crc32cOfRange", Crc32cOfRange); }
napi_value PunchHoleFunction(napi_env env) { return Function(env, "punchHole", PunchHole); }
napi_value ReadAheadFunction(napi_env env) { return Function(env, "readAhead", ReadAhead); }
