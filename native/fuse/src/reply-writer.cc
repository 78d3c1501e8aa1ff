#include "reply-writer.h"

#include <cerrno>
#include <vector>

#include "fuse-kernel.h"

namespace cachalot {

int WriteReply(int fd, uint64_t unique, int error, const iovec* pieces, int count) {
  kernel::OutHeader header{sizeof header, -error, unique};
  std::vector<iovec> iov(count + 1);
  iov[0] = {&header, sizeof header};
  for (int i = 0; i < count && error == 0; i++) {
    iov[i + 1] = pieces[i];
    header.len += pieces[i].iov_len;
  }
  int n = error == 0 ? count + 1 : 1;
  ssize_t written;
  do {
    written = writev(fd, iov.data(), n);
  } while (written < 0 && errno == EINTR);
  return written < 0 ? errno : 0;
}

}  // namespace cachalot
