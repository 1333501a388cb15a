// files/mapping.h — a read-only MAP_SHARED view of a whole file.
//
// The userspace TLS record layer seals file bodies straight from these pages: one pass over
// the page cache (the AEAD reads it) instead of a read() copy into a buffer and then the AEAD
// (docs/design.md, "Userspace records from mapped files"). Made lazily, once per cached file
// variant, and unmapped when the last response using it ends. Readers must go through
// base::run_guarded: the file may shrink under the mapping (SIGBUS).
#pragma once

#include <cstddef>

#include "base/result.h"

namespace sluice::files {

class Mapping {
public:
    Mapping() = default;
    ~Mapping();
    Mapping(Mapping&& o) noexcept;
    Mapping& operator=(Mapping&& o) noexcept;
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;

    // Maps `len` bytes of `fd` from offset 0 (len > 0). -errno from mmap.
    static Result<Mapping> create(int fd, size_t len);

    [[nodiscard]] const char* data() const { return static_cast<const char*>(addr_); }
    [[nodiscard]] size_t size() const { return len_; }
    [[nodiscard]] explicit operator bool() const { return addr_ != nullptr; }

    // True when every page of [off, off + n) is in the page cache (mincore), i.e. reading it
    // will not stall the event loop on the disk. Out-of-range or failing queries say false.
    [[nodiscard]] bool resident(size_t off, size_t n) const;

private:
    void reset();
    void* addr_ = nullptr;
    size_t len_ = 0;
};

}  // namespace sluice::files
