// transport/pipe.h — pipes for splice file → pipe → socket, pooled per worker (not
// thread-safe). A pipe goes back only empty: one with stale bytes would send them to the next
// connection, so a connection cut short closes its pipe instead.
#pragma once

#include <cstdint>
#include <vector>

#include "base/fd.h"
#include "base/result.h"

namespace sluice::transport {

struct Pipe {
    UniqueFd rd;
    UniqueFd wr;
    uint32_t capacity = 0;
};

class PipePool {
public:
    Result<Pipe> get();
    void put(Pipe&& p);

private:
    std::vector<Pipe> free_;
};

}  // namespace sluice::transport
