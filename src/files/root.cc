#include "files/root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cinttypes>
#include <climits>
#include <cstdio>

namespace sluice::files {

Result<Root> Root::open(const std::string& path) {
    int fd = ::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fail_errno();
    Root root;
    root.dir_.reset(fd);
    root.path_ = path;
    return root;
}

Result<UniqueFd> Root::open_beneath(std::string_view rel, int flags) const {
    // openat2 needs a NUL-terminated path; CleanPath::rel is short, so a stack copy avoids a
    // heap allocation on the hot path. Longer names could not be opened anyway.
    char buf[PATH_MAX];
    if (rel.size() >= sizeof buf) return fail(ENAMETOOLONG);
    if (rel.empty()) {
        buf[0] = '.';
        buf[1] = '\0';
    } else {
        rel.copy(buf, rel.size());
        buf[rel.size()] = '\0';
    }

    struct open_how how{};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    // EAGAIN: the kernel could not rule out a ".." race with a concurrent rename; retrying
    // is the documented remedy. Bounded so an attacker renaming in a loop cannot spin us.
    for (int attempt = 0;; ++attempt) {
        long fd = ::syscall(SYS_openat2, dir_.get(), buf, &how, sizeof how);
        if (fd >= 0) return UniqueFd(static_cast<int>(fd));
        if ((errno == EAGAIN || errno == EINTR) && attempt < 4) continue;
        return fail_errno();
    }
}

Result<struct stat> Root::stat_fd(int fd) {
    struct stat st{};
    if (::fstat(fd, &st) != 0) return fail_errno();
    return st;
}

std::string make_etag(const struct stat& st) {
    auto mtime_ns = static_cast<uint64_t>(st.st_mtim.tv_sec) * 1'000'000'000u +
                    static_cast<uint64_t>(st.st_mtim.tv_nsec);
    char buf[3 * 16 + 5];
    int n = std::snprintf(buf, sizeof buf, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"",
                          static_cast<uint64_t>(st.st_ino), static_cast<uint64_t>(st.st_size),
                          mtime_ns);
    return std::string(buf, static_cast<size_t>(n));
}

}  // namespace sluice::files
