#include "files/mapping.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <utility>

namespace sluice::files {

Mapping::~Mapping() { reset(); }

Mapping::Mapping(Mapping&& o) noexcept
    : addr_(std::exchange(o.addr_, nullptr)), len_(std::exchange(o.len_, 0)) {}

Mapping& Mapping::operator=(Mapping&& o) noexcept {
    if (this != &o) {
        reset();
        addr_ = std::exchange(o.addr_, nullptr);
        len_ = std::exchange(o.len_, 0);
    }
    return *this;
}

void Mapping::reset() {
    if (addr_ != nullptr) munmap(addr_, len_);
    addr_ = nullptr;
    len_ = 0;
}

Result<Mapping> Mapping::create(int fd, size_t len) {
    if (fd < 0 || len == 0) return fail(EINVAL);
    void* p = mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return fail(errno);
    Mapping m;
    m.addr_ = p;
    m.len_ = len;
    return m;
}

bool Mapping::resident(size_t off, size_t n) const {
    if (addr_ == nullptr || off > len_ || n > len_ - off) return false;
    if (n == 0) return true;
    static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t first = off / page, last = (off + n - 1) / page;
    unsigned char vec[256];
    for (size_t pg = first; pg <= last;) {
        const size_t count = std::min<size_t>(last - pg + 1, sizeof vec);
        if (mincore(static_cast<char*>(addr_) + pg * page, count * page, vec) != 0) return false;
        for (size_t i = 0; i < count; ++i)
            if ((vec[i] & 1) == 0) return false;
        pg += count;
    }
    return true;
}

}  // namespace sluice::files
