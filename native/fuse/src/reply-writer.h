// Writes replies to the kernel connection. Each reply is one writev of the
// out header and its pieces: the kernel takes a message whole, so replies
// from several threads never interleave.
#pragma once

#include <sys/uio.h>

#include <cstdint>

namespace cachalot {

// Sends header + pieces for request `unique`; error is 0 or a positive errno.
// Returns 0, or the errno of the write (ENOENT: the request was interrupted
// or the connection aborted; nothing to do about either).
int WriteReply(int fd, uint64_t unique, int error, const iovec* pieces, int count);

inline int WriteError(int fd, uint64_t unique, int error) { return WriteReply(fd, unique, error, nullptr, 0); }

template <typename T>
int WriteValue(int fd, uint64_t unique, const T& value) {
  iovec piece{const_cast<T*>(&value), sizeof value};
  return WriteReply(fd, unique, 0, &piece, 1);
}

}  // namespace cachalot
