// Answers to kernel requests, called on the JS thread with the id that the
// request arrived with. Each returns true when the answer was sent, false when
// the id was not in flight (already answered, or the session has ended).
#include <sys/stat.h>
#include <sys/uio.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "fuse-kernel.h"
#include "napi-util.h"
#include "reply-writer.h"
#include "session.h"

namespace cachalot {
namespace {

using namespace kernel;

constexpr size_t kMaxArgs = 14;

// The call's arguments: the session handle, the request id, then numbers.
struct Call {
  napi_env env;
  size_t argc = kMaxArgs;
  napi_value argv[kMaxArgs];
  Session* session = nullptr;
  uint64_t unique = 0;

  Call(napi_env e, napi_callback_info info, size_t wanted) : env(e) {
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    if (argc < wanted) {
      Throw(env, "missing arguments");
      return;
    }
    session = SessionOf(env, argv[0]);
    if (session == nullptr) return;
    bool ok = true;
    double id = NumberArg(env, argv[1], ok);
    if (ok) unique = session->take(static_cast<uint32_t>(id));
  }

  double number(size_t i) {
    bool ok = true;
    return NumberArg(env, argv[i], ok);
  }

  napi_value result(int written) {
    napi_value out;
    napi_get_boolean(env, unique != 0 && written == 0, &out);
    return out;
  }

  template <typename T>
  napi_value send(const T& value) {
    return result(WriteValue(session->fd, unique, value));
  }
};

// A cache time in seconds as the protocol's seconds and nanoseconds.
void SplitSeconds(double seconds, uint64_t& sec, uint32_t& nsec) {
  if (!(seconds > 0)) {
    sec = 0;
    nsec = 0;
    return;
  }
  double whole = std::floor(seconds);
  sec = whole >= 1.8e19 ? std::numeric_limits<uint64_t>::max() : static_cast<uint64_t>(whole);
  nsec = static_cast<uint32_t>((seconds - whole) * 1e9);
}

// Attributes from (ino, mode, size, mtimeMs, uid, gid, nlink) at argv[first..].
Attr AttrFrom(Call& c, size_t first) {
  Attr a{};
  a.ino = static_cast<uint64_t>(c.number(first));
  a.mode = static_cast<uint32_t>(c.number(first + 1));
  a.size = static_cast<uint64_t>(c.number(first + 2));
  double mtimeMs = c.number(first + 3);
  a.uid = static_cast<uint32_t>(c.number(first + 4));
  a.gid = static_cast<uint32_t>(c.number(first + 5));
  a.nlink = static_cast<uint32_t>(c.number(first + 6));
  a.blksize = 4096;
  a.blocks = (a.size + 511) / 512;
  double seconds = std::floor(mtimeMs / 1000);
  a.mtime = a.atime = a.ctime = static_cast<uint64_t>(seconds);
  a.mtimensec = a.atimensec = a.ctimensec = static_cast<uint32_t>((mtimeMs - seconds * 1000) * 1e6);
  return a;
}

// replyErr(handle, id, errno)
napi_value ReplyErr(napi_env env, napi_callback_info info) {
  Call c(env, info, 3);
  if (!c.unique) return c.result(-1);
  return c.result(WriteError(c.session->fd, c.unique, static_cast<int>(c.number(2))));
}

// An entry from (ino, mode, size, mtimeMs, uid, gid, nlink, entryTimeout, attrTimeout) at argv[2..10].
EntryOut EntryFrom(Call& c) {
  EntryOut e{};
  e.attr = AttrFrom(c, 2);
  e.nodeid = e.attr.ino;
  SplitSeconds(c.number(9), e.entry_valid, e.entry_valid_nsec);
  SplitSeconds(c.number(10), e.attr_valid, e.attr_valid_nsec);
  return e;
}

// An open reply from (fh, keepCache, backingId) at argv[first..]: a backing id
// (from backingOpen) makes the kernel read the file from that backing file itself.
OpenOut OpenFrom(Call& c, size_t first) {
  OpenOut out{};
  out.fh = static_cast<uint64_t>(c.number(first));
  bool keep = false;
  napi_get_value_bool(c.env, c.argv[first + 1], &keep);
  out.backing_id = static_cast<int32_t>(c.number(first + 2));
  // The kernel refuses KEEP_CACHE with passthrough: the FUSE inode's page
  // cache is not used at all then.
  out.open_flags = out.backing_id > 0 ? kOpenPassthrough : (keep ? kOpenKeepCache : 0);
  return out;
}

// replyEntry(handle, id, ino, mode, size, mtimeMs, uid, gid, nlink, entryTimeout, attrTimeout)
napi_value ReplyEntry(napi_env env, napi_callback_info info) {
  Call c(env, info, 11);
  if (!c.unique) return c.result(-1);
  return c.send(EntryFrom(c));
}

// replyCreate(handle, id, ino, mode, size, mtimeMs, uid, gid, nlink, entryTimeout, attrTimeout, fh, keepCache, backingId)
napi_value ReplyCreate(napi_env env, napi_callback_info info) {
  Call c(env, info, 14);
  if (!c.unique) return c.result(-1);
  struct {
    EntryOut entry;
    OpenOut open;
  } out{EntryFrom(c), OpenFrom(c, 11)};
  return c.send(out);
}

// replyWrite(handle, id, bytesWritten)
napi_value ReplyWrite(napi_env env, napi_callback_info info) {
  Call c(env, info, 3);
  if (!c.unique) return c.result(-1);
  WriteOut out{static_cast<uint32_t>(c.number(2)), 0};
  return c.send(out);
}

// replyAttr(handle, id, ino, mode, size, mtimeMs, uid, gid, nlink, attrTimeout)
napi_value ReplyAttr(napi_env env, napi_callback_info info) {
  Call c(env, info, 10);
  if (!c.unique) return c.result(-1);
  AttrOut out{};
  out.attr = AttrFrom(c, 2);
  SplitSeconds(c.number(9), out.attr_valid, out.attr_valid_nsec);
  return c.send(out);
}

// replyOpen(handle, id, fh, keepCache, backingId)
napi_value ReplyOpen(napi_env env, napi_callback_info info) {
  Call c(env, info, 5);
  if (!c.unique) return c.result(-1);
  return c.send(OpenFrom(c, 2));
}

// One read reply on its way to the kernel from a libuv worker thread.
struct AsyncReply {
  Session* session;
  uint64_t unique;
  std::vector<iovec> pieces;
  napi_ref buffers;  // the list of Buffers: keeps the bytes alive until the kernel has copied them
  napi_ref done;
  napi_async_work work;
};

void WriteAsyncReply(napi_env, void* data) {
  auto* r = static_cast<AsyncReply*>(data);
  WriteReply(r->session->fd, r->unique, 0, r->pieces.data(), static_cast<int>(r->pieces.size()));
}

void ReplyWritten(napi_env env, napi_status, void* data) {
  auto* r = static_cast<AsyncReply*>(data);
  napi_value done, global;
  napi_get_reference_value(env, r->done, &done);
  napi_get_global(env, &global);
  napi_delete_reference(env, r->buffers);
  napi_delete_reference(env, r->done);
  napi_delete_async_work(env, r->work);
  Session* s = r->session;
  delete r;
  s->replyWritten();
  napi_call_function(env, global, done, 0, nullptr, nullptr);
}

// replyBuffers(handle, id, buffers, done): the bytes of the Buffers, back to
// back (views of cached blocks: no copy on the JS thread), go to the kernel
// in one writev on a libuv worker thread, not the JS thread, which the copy
// into the reader's pages was the largest cost of; done() is called once the
// kernel has the bytes and the Buffers may be let go. Not called when the id
// was not in flight (the return value is false).
napi_value ReplyBuffers(napi_env env, napi_callback_info info) {
  Call c(env, info, 4);
  if (!c.unique) return c.result(-1);
  bool list = false;
  uint32_t count = 0;
  if (napi_is_array(env, c.argv[2], &list) == napi_ok && list) napi_get_array_length(env, c.argv[2], &count);
  std::vector<iovec> pieces;
  for (uint32_t i = 0; list && i < count; i++) {
    napi_value item;
    void* data = nullptr;
    size_t length = 0;
    napi_get_element(env, c.argv[2], i, &item);
    if (napi_get_buffer_info(env, item, &data, &length) != napi_ok) list = false;
    pieces.push_back({data, length});
  }
  if (!list) {
    WriteError(c.session->fd, c.unique, EIO);
    return Throw(env, "replyBuffers: not a list of Buffers");
  }
  auto* r = new AsyncReply{c.session, c.unique, std::move(pieces), nullptr, nullptr, nullptr};
  napi_create_reference(env, c.argv[2], 1, &r->buffers);
  napi_create_reference(env, c.argv[3], 1, &r->done);
  napi_value name;
  napi_create_string_utf8(env, "cachalot-fuse-reply", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, nullptr, name, WriteAsyncReply, ReplyWritten, r, &r->work);
  c.session->replyStarted();
  napi_queue_async_work(env, r->work);
  return c.result(0);
}

// replyStatfs(handle, id, blockSize, blocks, blocksFree, files, nameMax)
napi_value ReplyStatfs(napi_env env, napi_callback_info info) {
  Call c(env, info, 7);
  if (!c.unique) return c.result(-1);
  Kstatfs st{};
  st.bsize = st.frsize = static_cast<uint32_t>(c.number(2));
  st.blocks = static_cast<uint64_t>(c.number(3));
  st.bfree = st.bavail = static_cast<uint64_t>(c.number(4));
  st.files = st.ffree = static_cast<uint64_t>(c.number(5));
  st.namelen = static_cast<uint32_t>(c.number(6));
  return c.send(st);
}

// Appends one directory entry if it fits in `room`; returns its size, or 0.
size_t AddDirent(std::vector<char>& out, size_t room, const std::string& name, uint64_t ino, bool dir, uint64_t offset) {
  size_t size = (sizeof(Dirent) + name.size() + 7) & ~size_t(7);
  if (out.size() + size > room) return 0;
  Dirent d{ino, offset, static_cast<uint32_t>(name.size()), static_cast<uint32_t>(dir ? S_IFDIR >> 12 : S_IFREG >> 12)};
  size_t at = out.size();
  out.resize(at + size, 0);
  memcpy(out.data() + at, &d, sizeof d);
  memcpy(out.data() + at + sizeof d, name.data(), name.size());
  return size;
}

// replyDir(handle, id, size, offset, names: string[], inos: number[], dirs: boolean[]) -> entries sent.
// Entry i's offset is i + 1: the kernel resumes a listing at the offset of the last entry it took.
napi_value ReplyDir(napi_env env, napi_callback_info info) {
  Call c(env, info, 7);
  napi_value sent;
  if (!c.unique) {
    napi_create_int32(env, -1, &sent);
    return sent;
  }
  size_t size = static_cast<size_t>(c.number(2));
  uint32_t offset = static_cast<uint32_t>(c.number(3));
  uint32_t count = 0;
  napi_get_array_length(env, c.argv[4], &count);
  std::vector<char> buffer;
  buffer.reserve(size);
  uint32_t i = offset;
  for (; i < count; i++) {
    napi_value name, ino, dir;
    napi_get_element(env, c.argv[4], i, &name);
    napi_get_element(env, c.argv[5], i, &ino);
    napi_get_element(env, c.argv[6], i, &dir);
    bool ok = true, isDir = false;
    std::string entry = StringArg(env, name, ok);
    double number = NumberArg(env, ino, ok);
    napi_get_value_bool(env, dir, &isDir);
    if (!ok || AddDirent(buffer, size, entry, static_cast<uint64_t>(number), isDir, i + 1) == 0) break;
  }
  iovec piece{buffer.data(), buffer.size()};
  WriteReply(c.session->fd, c.unique, 0, &piece, 1);
  napi_create_int32(env, static_cast<int32_t>(i - offset), &sent);
  return sent;
}

}  // namespace

napi_value InitReplies(napi_env env, napi_value exports) {
  Export(env, exports, "replyErr", ReplyErr);
  Export(env, exports, "replyEntry", ReplyEntry);
  Export(env, exports, "replyAttr", ReplyAttr);
  Export(env, exports, "replyOpen", ReplyOpen);
  Export(env, exports, "replyCreate", ReplyCreate);
  Export(env, exports, "replyWrite", ReplyWrite);
  Export(env, exports, "replyBuffers", ReplyBuffers);
  Export(env, exports, "replyStatfs", ReplyStatfs);
  Export(env, exports, "replyDir", ReplyDir);
  return exports;
}

}  // namespace cachalot
