// Answers to kernel requests, called on the JS thread with the id that the
// request arrived with. Each returns true when the answer was sent, false when
// the id was not in flight (already answered, or the session has ended).
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <vector>

#include "napi-util.h"
#include "session.h"

namespace cachalot {
namespace {

constexpr size_t kMaxArgs = 12;

// The call's arguments: the session handle, the request id, then numbers.
struct Call {
  napi_env env;
  size_t argc = kMaxArgs;
  napi_value argv[kMaxArgs];
  Session* session = nullptr;
  fuse_req_t req = nullptr;

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
    if (ok) req = session->take(static_cast<uint32_t>(id));
  }

  double number(size_t i) {
    bool ok = true;
    return NumberArg(env, argv[i], ok);
  }

  napi_value result(int sent) {
    napi_value out;
    napi_get_boolean(env, req != nullptr && sent == 0, &out);
    return out;
  }
};

// stat from (ino, mode, size, mtimeMs, uid, gid, nlink) at argv[first..].
struct stat StatFrom(Call& c, size_t first) {
  struct stat st;
  memset(&st, 0, sizeof st);
  st.st_ino = static_cast<ino_t>(c.number(first));
  st.st_mode = static_cast<mode_t>(c.number(first + 1));
  st.st_size = static_cast<off_t>(c.number(first + 2));
  double mtimeMs = c.number(first + 3);
  st.st_uid = static_cast<uid_t>(c.number(first + 4));
  st.st_gid = static_cast<gid_t>(c.number(first + 5));
  st.st_nlink = static_cast<nlink_t>(c.number(first + 6));
  st.st_blksize = 4096;
  st.st_blocks = (st.st_size + 511) / 512;
  st.st_mtim.tv_sec = static_cast<time_t>(std::floor(mtimeMs / 1000));
  st.st_mtim.tv_nsec = static_cast<long>((mtimeMs - std::floor(mtimeMs / 1000) * 1000) * 1e6);
  st.st_atim = st.st_mtim;
  st.st_ctim = st.st_mtim;
  return st;
}

// replyErr(handle, id, errno)
napi_value ReplyErr(napi_env env, napi_callback_info info) {
  Call c(env, info, 3);
  if (!c.req) return c.result(-1);
  return c.result(fuse_reply_err(c.req, static_cast<int>(c.number(2))));
}

// replyEntry(handle, id, ino, mode, size, mtimeMs, uid, gid, nlink, entryTimeout, attrTimeout)
napi_value ReplyEntry(napi_env env, napi_callback_info info) {
  Call c(env, info, 11);
  if (!c.req) return c.result(-1);
  fuse_entry_param e;
  memset(&e, 0, sizeof e);
  e.attr = StatFrom(c, 2);
  e.ino = e.attr.st_ino;
  e.entry_timeout = c.number(9);
  e.attr_timeout = c.number(10);
  return c.result(fuse_reply_entry(c.req, &e));
}

// replyAttr(handle, id, ino, mode, size, mtimeMs, uid, gid, nlink, attrTimeout)
napi_value ReplyAttr(napi_env env, napi_callback_info info) {
  Call c(env, info, 10);
  if (!c.req) return c.result(-1);
  struct stat st = StatFrom(c, 2);
  return c.result(fuse_reply_attr(c.req, &st, c.number(9)));
}

// replyOpen(handle, id, fh, keepCache)
napi_value ReplyOpen(napi_env env, napi_callback_info info) {
  Call c(env, info, 4);
  if (!c.req) return c.result(-1);
  fuse_file_info fi;
  memset(&fi, 0, sizeof fi);
  fi.fh = static_cast<uint64_t>(c.number(2));
  bool keep = false;
  napi_get_value_bool(env, c.argv[3], &keep);
  fi.keep_cache = keep;
  return c.result(fuse_reply_open(c.req, &fi));
}

// One read reply on its way to the kernel from a libuv worker thread.
struct AsyncReply {
  Session* session;
  fuse_req_t req;
  std::vector<iovec> pieces;
  napi_ref buffers;  // the list of Buffers: keeps the bytes alive until the kernel has copied them
  napi_ref done;
  napi_async_work work;
};

void WriteReply(napi_env, void* data) {
  auto* r = static_cast<AsyncReply*>(data);
  fuse_reply_iov(r->req, r->pieces.data(), static_cast<int>(r->pieces.size()));
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
  if (!c.req) return c.result(-1);
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
    fuse_reply_err(c.req, EIO);
    return Throw(env, "replyBuffers: not a list of Buffers");
  }
  auto* r = new AsyncReply{c.session, c.req, std::move(pieces), nullptr, nullptr, nullptr};
  napi_create_reference(env, c.argv[2], 1, &r->buffers);
  napi_create_reference(env, c.argv[3], 1, &r->done);
  napi_value name;
  napi_create_string_utf8(env, "cachalot-fuse-reply", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, nullptr, name, WriteReply, ReplyWritten, r, &r->work);
  c.session->replyStarted();
  napi_queue_async_work(env, r->work);
  return c.result(0);
}

// replyStatfs(handle, id, blockSize, blocks, blocksFree, files, nameMax)
napi_value ReplyStatfs(napi_env env, napi_callback_info info) {
  Call c(env, info, 7);
  if (!c.req) return c.result(-1);
  struct statvfs st;
  memset(&st, 0, sizeof st);
  st.f_bsize = st.f_frsize = static_cast<unsigned long>(c.number(2));
  st.f_blocks = static_cast<fsblkcnt_t>(c.number(3));
  st.f_bfree = st.f_bavail = static_cast<fsblkcnt_t>(c.number(4));
  st.f_files = st.f_ffree = st.f_favail = static_cast<fsfilcnt_t>(c.number(5));
  st.f_namemax = static_cast<unsigned long>(c.number(6));
  return c.result(fuse_reply_statfs(c.req, &st));
}

// replyDir(handle, id, size, offset, names: string[], inos: number[], dirs: boolean[]) -> entries sent.
// Entry i's offset is i + 1: the kernel resumes a listing at the offset of the last entry it took.
napi_value ReplyDir(napi_env env, napi_callback_info info) {
  Call c(env, info, 7);
  napi_value sent;
  if (!c.req) {
    napi_create_int32(env, -1, &sent);
    return sent;
  }
  size_t size = static_cast<size_t>(c.number(2));
  uint32_t offset = static_cast<uint32_t>(c.number(3));
  uint32_t count = 0;
  napi_get_array_length(env, c.argv[4], &count);
  std::vector<char> buffer(size);
  size_t used = 0;
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
    if (!ok) break;
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_ino = static_cast<ino_t>(number);
    st.st_mode = isDir ? S_IFDIR : S_IFREG;
    size_t need = fuse_add_direntry(c.req, buffer.data() + used, size - used, entry.c_str(), &st, i + 1);
    if (need > size - used) break;
    used += need;
  }
  fuse_reply_buf(c.req, buffer.data(), used);
  napi_create_int32(env, static_cast<int32_t>(i - offset), &sent);
  return sent;
}

}  // namespace

napi_value InitReplies(napi_env env, napi_value exports) {
  Export(env, exports, "replyErr", ReplyErr);
  Export(env, exports, "replyEntry", ReplyEntry);
  Export(env, exports, "replyAttr", ReplyAttr);
  Export(env, exports, "replyOpen", ReplyOpen);
  Export(env, exports, "replyBuffers", ReplyBuffers);
  Export(env, exports, "replyStatfs", ReplyStatfs);
  Export(env, exports, "replyDir", ReplyDir);
  return exports;
}

}  // namespace cachalot
