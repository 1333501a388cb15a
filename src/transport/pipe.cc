#include "transport/pipe.h"

#include <fcntl.h>
#include <unistd.h>

namespace sluice::transport {

namespace {
constexpr uint32_t kPipeSize = 1 << 20;  // fewer splice rounds for big files
constexpr size_t kMaxPooled = 64;
}  // namespace

Result<Pipe> PipePool::get() {
    if (!free_.empty()) {
        Pipe p = std::move(free_.back());
        free_.pop_back();
        return p;
    }
    int fds[2];
    // Non-blocking: a splice from an empty pipe must fail fast, never park an io-wq thread.
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return fail_errno();
    Pipe p;
    p.rd.reset(fds[0]);
    p.wr.reset(fds[1]);
    (void)fcntl(fds[1], F_SETPIPE_SZ, kPipeSize);  // may be capped by pipe-max-size: fine
    int cap = fcntl(fds[1], F_GETPIPE_SZ);
    p.capacity = cap > 0 ? static_cast<uint32_t>(cap) : 65536;
    return p;
}

void PipePool::put(Pipe&& p) {
    if (free_.size() < kMaxPooled) free_.push_back(std::move(p));
}

}  // namespace sluice::transport
