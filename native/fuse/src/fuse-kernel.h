// The part of the kernel's FUSE protocol (include/uapi/linux/fuse.h) that
// cachalot speaks, up to minor version 40: FUSE passthrough (open replies
// naming a backing file the kernel reads itself) is 7.40, and Debian 12's
// libfuse 3.14 and its kernel headers stop at 7.38. Layouts are the
// kernel's ABI: fixed-width fields, 64-bit aligned, never reordered.
#pragma once

#include <sys/ioctl.h>

#include <cstdint>

namespace cachalot {
namespace kernel {

constexpr uint32_t kMajor = 7;
// The newest minor we speak. The kernel uses the smaller of its own and ours.
constexpr uint32_t kMinor = 40;
// Oldest minor we accept: 7.23 brought the 64-byte INIT reply we send.
constexpr uint32_t kMinMinor = 23;
constexpr uint64_t kRootId = 1;

enum Opcode : uint32_t {
  kLookup = 1,
  kForget = 2,
  kGetattr = 3,
  kSetattr = 4,
  kReadlink = 5,
  kSymlink = 6,
  kMknod = 8,
  kMkdir = 9,
  kUnlink = 10,
  kRmdir = 11,
  kRename = 12,
  kLink = 13,
  kOpen = 14,
  kRead = 15,
  kWrite = 16,
  kStatfs = 17,
  kRelease = 18,
  kFsync = 20,
  kSetxattr = 21,
  kGetxattr = 22,
  kListxattr = 23,
  kRemovexattr = 24,
  kFlush = 25,
  kInit = 26,
  kOpendir = 27,
  kReaddir = 28,
  kReleasedir = 29,
  kFsyncdir = 30,
  kGetlk = 31,
  kSetlk = 32,
  kSetlkw = 33,
  kAccess = 34,
  kCreate = 35,
  kInterrupt = 36,
  kBmap = 37,
  kDestroy = 38,
  kIoctl = 39,
  kPoll = 40,
  kBatchForget = 42,
  kFallocate = 43,
  kReaddirplus = 44,
  kRename2 = 45,
  kLseek = 46,
  kCopyFileRange = 47,
  kTmpfile = 51,
  kStatx = 52,
  kCopyFileRange64 = 53,
};

// INIT flags (the first 32 in flags, the next 32 in flags2 with kInitExt).
constexpr uint64_t kAsyncRead = 1ull << 0;
constexpr uint64_t kAtomicOTrunc = 1ull << 3;
constexpr uint64_t kBigWrites = 1ull << 5;
constexpr uint64_t kAutoInvalData = 1ull << 12;
constexpr uint64_t kAsyncDio = 1ull << 15;
constexpr uint64_t kParallelDirops = 1ull << 18;
constexpr uint64_t kMaxPages = 1ull << 22;
constexpr uint64_t kInitExt = 1ull << 30;
constexpr uint64_t kPassthrough = 1ull << 37;

// Open reply flags.
constexpr uint32_t kOpenKeepCache = 1u << 1;
constexpr uint32_t kOpenPassthrough = 1u << 7;

struct InHeader {
  uint32_t len;
  uint32_t opcode;
  uint64_t unique;
  uint64_t nodeid;
  uint32_t uid;
  uint32_t gid;
  uint32_t pid;
  uint16_t total_extlen;
  uint16_t padding;
};

struct OutHeader {
  uint32_t len;
  int32_t error;  // 0 or a negative errno
  uint64_t unique;
};

struct Attr {
  uint64_t ino;
  uint64_t size;
  uint64_t blocks;
  uint64_t atime;
  uint64_t mtime;
  uint64_t ctime;
  uint32_t atimensec;
  uint32_t mtimensec;
  uint32_t ctimensec;
  uint32_t mode;
  uint32_t nlink;
  uint32_t uid;
  uint32_t gid;
  uint32_t rdev;
  uint32_t blksize;
  uint32_t flags;
};

struct EntryOut {
  uint64_t nodeid;
  uint64_t generation;
  uint64_t entry_valid;
  uint64_t attr_valid;
  uint32_t entry_valid_nsec;
  uint32_t attr_valid_nsec;
  Attr attr;
};

struct AttrOut {
  uint64_t attr_valid;
  uint32_t attr_valid_nsec;
  uint32_t dummy;
  Attr attr;
};

struct ForgetIn {
  uint64_t nlookup;
};

struct ForgetOne {
  uint64_t nodeid;
  uint64_t nlookup;
};

struct BatchForgetIn {
  uint32_t count;
  uint32_t dummy;
};

struct OpenIn {
  uint32_t flags;
  uint32_t open_flags;
};

struct OpenOut {
  uint64_t fh;
  uint32_t open_flags;
  int32_t backing_id;
};

struct ReadIn {
  uint64_t fh;
  uint64_t offset;
  uint32_t size;
  uint32_t read_flags;
  uint64_t lock_owner;
  uint32_t flags;
  uint32_t padding;
};

struct CreateIn {
  uint32_t flags;
  uint32_t mode;
  uint32_t umask;
  uint32_t open_flags;
};

struct MknodIn {
  uint32_t mode;
  uint32_t rdev;
  uint32_t umask;
  uint32_t padding;
};

struct MkdirIn {
  uint32_t mode;
  uint32_t umask;
};

struct RenameIn {
  uint64_t newdir;
};

struct Rename2In {
  uint64_t newdir;
  uint32_t flags;
  uint32_t padding;
};

struct WriteIn {
  uint64_t fh;
  uint64_t offset;
  uint32_t size;
  uint32_t write_flags;
  uint64_t lock_owner;
  uint32_t flags;
  uint32_t padding;
};

struct WriteOut {
  uint32_t size;
  uint32_t padding;
};

struct FlushIn {
  uint64_t fh;
  uint32_t unused;
  uint32_t padding;
  uint64_t lock_owner;
};

struct FsyncIn {
  uint64_t fh;
  uint32_t fsync_flags;
  uint32_t padding;
};

struct SetattrIn {
  uint32_t valid;
  uint32_t padding;
  uint64_t fh;
  uint64_t size;
  uint64_t lock_owner;
  uint64_t atime;
  uint64_t mtime;
  uint64_t ctime;
  uint32_t atimensec;
  uint32_t mtimensec;
  uint32_t ctimensec;
  uint32_t mode;
  uint32_t unused4;
  uint32_t uid;
  uint32_t gid;
  uint32_t unused5;
};

// SetattrIn.valid bits.
constexpr uint32_t kSetattrSize = 1u << 3;
constexpr uint32_t kSetattrFh = 1u << 6;

struct ReleaseIn {
  uint64_t fh;
  uint32_t flags;
  uint32_t release_flags;
  uint64_t lock_owner;
};

struct Kstatfs {
  uint64_t blocks;
  uint64_t bfree;
  uint64_t bavail;
  uint64_t files;
  uint64_t ffree;
  uint32_t bsize;
  uint32_t namelen;
  uint32_t frsize;
  uint32_t padding;
  uint32_t spare[6];
};

struct InitIn {
  uint32_t major;
  uint32_t minor;
  uint32_t max_readahead;
  uint32_t flags;
  uint32_t flags2;  // with kInitExt
  uint32_t unused[11];
};

struct InitOut {
  uint32_t major;
  uint32_t minor;
  uint32_t max_readahead;
  uint32_t flags;
  uint16_t max_background;
  uint16_t congestion_threshold;
  uint32_t max_write;
  uint32_t time_gran;
  uint16_t max_pages;
  uint16_t map_alignment;
  uint32_t flags2;
  uint32_t max_stack_depth;
  uint32_t unused[6];
};

struct Dirent {
  uint64_t ino;
  uint64_t off;
  uint32_t namelen;
  uint32_t type;
  // name[namelen] follows, then zeros up to the next 8-byte boundary
};

struct BackingMap {
  int32_t fd;
  uint32_t flags;
  uint64_t padding;
};

constexpr unsigned long kDevIocBackingOpen = _IOW(229, 1, BackingMap);
constexpr unsigned long kDevIocBackingClose = _IOW(229, 2, uint32_t);

static_assert(sizeof(InHeader) == 40, "fuse_in_header");
static_assert(sizeof(OutHeader) == 16, "fuse_out_header");
static_assert(sizeof(Attr) == 88, "fuse_attr");
static_assert(sizeof(EntryOut) == 128, "fuse_entry_out");
static_assert(sizeof(AttrOut) == 104, "fuse_attr_out");
static_assert(sizeof(OpenOut) == 16, "fuse_open_out");
static_assert(sizeof(ReadIn) == 40, "fuse_read_in");
static_assert(sizeof(Kstatfs) == 80, "fuse_kstatfs");
static_assert(sizeof(WriteIn) == 40, "fuse_write_in");
static_assert(sizeof(SetattrIn) == 88, "fuse_setattr_in");
static_assert(sizeof(InitIn) == 64, "fuse_init_in");
static_assert(sizeof(InitOut) == 64, "fuse_init_out");
static_assert(sizeof(BackingMap) == 16, "fuse_backing_map");
static_assert(kDevIocBackingOpen == 0x4010E501, "FUSE_DEV_IOC_BACKING_OPEN");

}  // namespace kernel
}  // namespace cachalot
