// files/root.h — the served root and confined opens. Every open goes through openat2 with
// RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS relative to the root's directory fd, so no path and
// no symlink can reach outside it. Thread-safe (the root fd is read-only shared state).
#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>

#include "base/fd.h"
#include "base/result.h"

namespace sluice::files {

class Root {
public:
    // Opens `path` as a directory (O_PATH|O_DIRECTORY). Errors: ENOENT, ENOTDIR, EACCES...
    static Result<Root> open(const std::string& path);

    // Opens `rel` (a CleanPath::rel, "" = the root) beneath the root. Symlinks inside the root
    // are followed; any that leave it fail with EXDEV. `flags` are added to O_CLOEXEC.
    [[nodiscard]] Result<UniqueFd> open_beneath(std::string_view rel, int flags) const;

    // fstat of an fd opened by open_beneath (convenience wrapper).
    static Result<struct stat> stat_fd(int fd);

    [[nodiscard]] int fd() const { return dir_.get(); }
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    UniqueFd dir_;
    std::string path_;
};

// Strong ETag from inode, size and mtime (ns): "\"<ino>-<size>-<mtime>\"" in hex.
std::string make_etag(const struct stat& st);

}  // namespace sluice::files
