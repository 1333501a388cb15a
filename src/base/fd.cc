#include "base/fd.h"

#include <unistd.h>

namespace sluice {

void UniqueFd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);  // close() errors are not actionable for us
    fd_ = fd;
}

}  // namespace sluice
