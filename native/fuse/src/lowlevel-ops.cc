// The libfuse3 low-level operations. Each runs on the loop thread, copies what
// it needs out of libfuse's receive buffer (reused for the next request) and
// hands the request to JavaScript, which answers it later with a reply*.
#include <cerrno>

#include "session.h"

namespace cachalot {
namespace {

Session* SessionFor(fuse_req_t req) { return static_cast<Session*>(fuse_req_userdata(req)); }

void Post(fuse_req_t req, Op op, uint64_t ino, fuse_file_info* fi = nullptr, uint64_t size = 0,
          int64_t offset = 0) {
  auto* r = new Request{op, req, ino, fi ? fi->fh : 0, size, offset, {}};
  SessionFor(req)->post(r);
}

void Init(void* userdata, fuse_conn_info* conn) {
  // Readahead requests are "background" requests; the kernel's default of 12
  // in flight starves a daemon that fetches blocks in parallel.
  conn->max_background = 64;
  conn->congestion_threshold = 48;
  // Reads arrive as large as the kernel allows (max_pages, from max_write):
  // fewer, bigger requests are what makes FUSE cheap.
}

void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto* r = new Request{kLookup, req, parent, 0, 0, 0, name};
  SessionFor(req)->post(r);
}

void Forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  Session* s = SessionFor(req);
  fuse_reply_none(req);
  s->post(new Request{kForget, nullptr, ino, 0, nlookup, 0, {}});
}

void ForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  Session* s = SessionFor(req);
  for (size_t i = 0; i < count; i++) s->post(new Request{kForget, nullptr, forgets[i].ino, 0, forgets[i].nlookup, 0, {}});
  fuse_reply_none(req);
}

void Getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) { Post(req, kGetattr, ino); }

void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) { Post(req, kOpen, ino, nullptr, static_cast<uint64_t>(fi->flags)); }

void Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Post(req, kRead, ino, fi, size, off);
}

void Release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) { Post(req, kRelease, ino, fi); }

void Opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) { Post(req, kOpendir, ino); }

void Readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Post(req, kReaddir, ino, fi, size, off);
}

void Releasedir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) { Post(req, kReleasedir, ino, fi); }

void Statfs(fuse_req_t req, fuse_ino_t ino) { Post(req, kStatfs, ino); }

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops{};
  ops.init = Init;
  ops.lookup = Lookup;
  ops.forget = Forget;
  ops.forget_multi = ForgetMulti;
  ops.getattr = Getattr;
  ops.open = Open;
  ops.read = Read;
  ops.release = Release;
  ops.opendir = Opendir;
  ops.readdir = Readdir;
  ops.releasedir = Releasedir;
  ops.statfs = Statfs;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops kLowlevelOps = MakeOps();

}  // namespace cachalot
