// Requests from the kernel: those JavaScript serves are handed to it (their
// fields copied out of the read buffer, which the next request reuses); INIT
// and the rest are answered here.
#include <cerrno>
#include <cstring>

#include "fuse-kernel.h"
#include "init-negotiation.h"
#include "reply-writer.h"
#include "session.h"

namespace cachalot {
namespace {

using kernel::InHeader;

// The request's argument, when the request is long enough to hold one.
template <typename T>
const T* Arg(const InHeader& header, const char* bytes, size_t length) {
  return length >= sizeof header + sizeof(T) ? reinterpret_cast<const T*>(bytes + sizeof header) : nullptr;
}

void Post(Session* s, Op op, const InHeader& h, uint64_t fh = 0, uint64_t size = 0, int64_t offset = 0) {
  s->dispatchToJs(Request{op, h.unique, h.nodeid, fh, size, offset, {}});
}

// The NUL-terminated name at bytes[at, length): false when there is none; `at` moves past it.
bool NameAt(const char* bytes, size_t length, size_t& at, std::string& out) {
  if (at >= length) return false;
  size_t n = strnlen(bytes + at, length - at);
  if (n == length - at) return false;
  out.assign(bytes + at, n);
  at += n + 1;
  return true;
}

// A request whose argument struct T is followed by a name (create, mkdir, mknod).
template <typename T>
bool ArgAndName(const InHeader& h, const char* bytes, size_t length, const T*& arg, std::string& name) {
  arg = Arg<T>(h, bytes, length);
  size_t at = sizeof h + sizeof(T);
  return arg != nullptr && NameAt(bytes, length, at, name);
}

// Answers what JavaScript does not serve. Objects have no links (EPERM, as
// filesystems without them answer) and no preallocation, server-side range
// copy or anonymous files (EOPNOTSUPP: the kernel and cp fall back to plain
// writes). ENOSYS is the protocol's "never ask again" and is answered on
// purpose where that is the meaning wanted: ACCESS (permission bits decide),
// xattrs (the user sees EOPNOTSUPP), POLL, LSEEK, BMAP and STATX (the
// kernel's generic code serves them); and for opcodes we do not know.
int LocalAnswer(uint32_t opcode) {
  switch (opcode) {
    case kernel::kFsyncdir:
      return 0;
    case kernel::kSymlink:
    case kernel::kLink:
      return EPERM;
    case kernel::kFallocate:
    case kernel::kCopyFileRange:
    case kernel::kCopyFileRange64:
    case kernel::kTmpfile:
      return EOPNOTSUPP;
    case kernel::kReadlink:
      return EINVAL;  // there are no symlinks
    case kernel::kIoctl:
      return ENOTTY;
    default:
      return ENOSYS;
  }
}

void Forget(Session* s, uint64_t nodeid, uint64_t nlookup) { s->dispatchToJs(Request{Op::kForget, 0, nodeid, 0, nlookup, 0, {}}); }

}  // namespace

void HandleRequest(Session* s, const char* bytes, size_t length) {
  if (length < sizeof(InHeader)) return;
  InHeader h;
  memcpy(&h, bytes, sizeof h);
  if (h.len != length) return;
  switch (h.opcode) {
    case kernel::kInit:
      if (auto* in = Arg<kernel::InitIn>(h, bytes, length)) return AnswerInit(s, h.unique, *in);
      // A pre-7.36 INIT is shorter; its flags2 then means nothing.
      if (length >= sizeof h + offsetof(kernel::InitIn, flags2)) {
        kernel::InitIn in{};
        memcpy(&in, bytes + sizeof h, offsetof(kernel::InitIn, flags2));
        return AnswerInit(s, h.unique, in);
      }
      break;
    case kernel::kLookup: {
      const char* name = bytes + sizeof h;
      size_t room = length - sizeof h;
      size_t n = strnlen(name, room);
      if (n == room) break;
      s->dispatchToJs(Request{Op::kLookup, h.unique, h.nodeid, 0, 0, 0, std::string(name, n)});
      return;
    }
    case kernel::kForget:
      if (auto* in = Arg<kernel::ForgetIn>(h, bytes, length)) Forget(s, h.nodeid, in->nlookup);
      return;  // no reply
    case kernel::kBatchForget:
      if (auto* in = Arg<kernel::BatchForgetIn>(h, bytes, length)) {
        size_t room = (length - sizeof h - sizeof *in) / sizeof(kernel::ForgetOne);
        auto* one = reinterpret_cast<const kernel::ForgetOne*>(in + 1);
        for (size_t i = 0; i < in->count && i < room; i++) Forget(s, one[i].nodeid, one[i].nlookup);
      }
      return;  // no reply
    case kernel::kInterrupt:
      return;  // the request it names finishes anyway; no reply
    case kernel::kGetattr:
      return Post(s, Op::kGetattr, h);
    case kernel::kOpen:
      if (auto* in = Arg<kernel::OpenIn>(h, bytes, length)) {
        Request r{Op::kOpen, h.unique, h.nodeid, 0, in->flags, 0, {}};
        r.pid = h.pid;
        return s->dispatchToJs(r);
      }
      break;
    case kernel::kCreate: {
      const kernel::CreateIn* in;
      Request r{Op::kCreate, h.unique, h.nodeid, 0, 0, 0, {}};
      if (!ArgAndName(h, bytes, length, in, r.name)) break;
      r.size = in->mode;
      r.flags = in->flags;
      return s->dispatchToJs(r);
    }
    case kernel::kMknod: {
      const kernel::MknodIn* in;
      Request r{Op::kMknod, h.unique, h.nodeid, 0, 0, 0, {}};
      if (!ArgAndName(h, bytes, length, in, r.name)) break;
      r.size = in->mode;
      return s->dispatchToJs(r);
    }
    case kernel::kMkdir: {
      const kernel::MkdirIn* in;
      Request r{Op::kMkdir, h.unique, h.nodeid, 0, 0, 0, {}};
      if (!ArgAndName(h, bytes, length, in, r.name)) break;
      r.size = in->mode;
      return s->dispatchToJs(r);
    }
    case kernel::kUnlink:
    case kernel::kRmdir: {
      Request r{h.opcode == kernel::kUnlink ? Op::kUnlink : Op::kRmdir, h.unique, h.nodeid, 0, 0, 0, {}};
      size_t at = sizeof h;
      if (!NameAt(bytes, length, at, r.name)) break;
      return s->dispatchToJs(r);
    }
    case kernel::kRename:
    case kernel::kRename2: {
      Request r{Op::kRename, h.unique, h.nodeid, 0, 0, 0, {}};
      size_t at = sizeof h;
      if (h.opcode == kernel::kRename) {
        auto* in = Arg<kernel::RenameIn>(h, bytes, length);
        if (!in) break;
        r.fh = in->newdir;
        at += sizeof *in;
      } else {
        auto* in = Arg<kernel::Rename2In>(h, bytes, length);
        if (!in) break;
        r.fh = in->newdir;
        r.flags = in->flags;
        at += sizeof *in;
      }
      if (!NameAt(bytes, length, at, r.name) || !NameAt(bytes, length, at, r.name2)) break;
      return s->dispatchToJs(r);
    }
    case kernel::kWrite:
      if (auto* in = Arg<kernel::WriteIn>(h, bytes, length)) {
        size_t at = sizeof h + sizeof *in;
        if (length - at < in->size) break;
        Request r{Op::kWrite, h.unique, h.nodeid, in->fh, in->size, static_cast<int64_t>(in->offset), {}};
        r.data = bytes + at;
        r.dataLength = in->size;
        return s->dispatchToJs(r);
      }
      break;
    case kernel::kFlush:
      if (auto* in = Arg<kernel::FlushIn>(h, bytes, length)) {
        Request r{Op::kFlush, h.unique, h.nodeid, in->fh, 0, 0, {}};
        r.pid = h.pid;
        return s->dispatchToJs(r);
      }
      break;
    case kernel::kFsync:
      if (auto* in = Arg<kernel::FsyncIn>(h, bytes, length)) return Post(s, Op::kFsync, h, in->fh);
      break;
    case kernel::kSetattr:
      if (auto* in = Arg<kernel::SetattrIn>(h, bytes, length)) {
        Request r{Op::kSetattr, h.unique, h.nodeid, (in->valid & kernel::kSetattrFh) ? in->fh : 0, in->size, 0, {}};
        r.flags = in->valid;
        return s->dispatchToJs(r);
      }
      break;
    case kernel::kRead:
      if (auto* in = Arg<kernel::ReadIn>(h, bytes, length)) return Post(s, Op::kRead, h, in->fh, in->size, static_cast<int64_t>(in->offset));
      break;
    case kernel::kRelease:
      if (auto* in = Arg<kernel::ReleaseIn>(h, bytes, length)) return Post(s, Op::kRelease, h, in->fh);
      break;
    case kernel::kOpendir:
      return Post(s, Op::kOpendir, h);
    case kernel::kReaddir:
      if (auto* in = Arg<kernel::ReadIn>(h, bytes, length)) return Post(s, Op::kReaddir, h, in->fh, in->size, static_cast<int64_t>(in->offset));
      break;
    case kernel::kReleasedir:
      if (auto* in = Arg<kernel::ReleaseIn>(h, bytes, length)) return Post(s, Op::kReleasedir, h, in->fh);
      break;
    case kernel::kStatfs:
      return Post(s, Op::kStatfs, h);
    case kernel::kDestroy:
      WriteError(s->fd, h.unique, 0);
      return;
    default:
      WriteError(s->fd, h.unique, LocalAnswer(h.opcode));
      return;
  }
  // Too short for its opcode: the kernel never sends that.
  WriteError(s->fd, h.unique, EINVAL);
}

}  // namespace cachalot
