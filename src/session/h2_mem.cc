#include "session/h2_mem.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>

namespace sluice::session {

namespace {
size_t page_size() {
    static const size_t p = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return p;
}
}  // namespace

void* H2Mem::malloc(size_t n, void* self) { return realloc(nullptr, n, self); }

void H2Mem::free(void* p, void* self) {
    auto* m = static_cast<H2Mem*>(self);
    if (p != nullptr && p == m->framebuf_) {
        m->framebuf_ = nullptr;
        m->dirty_ = false;
    }
    std::free(p);
}

void* H2Mem::calloc(size_t n, size_t size, void*) { return std::calloc(n, size); }

void* H2Mem::realloc(void* p, size_t n, void* self) {
    auto* m = static_cast<H2Mem*>(self);
    if (p == nullptr && m->creating_ && m->framebuf_ == nullptr && n >= kFrameBuf) {
        // Whole pages of its own: nothing else shares them, so they can be dropped.
        const size_t pg = page_size();
        const size_t len = (n + pg - 1) / pg * pg;
        void* b = std::aligned_alloc(pg, len);
        if (b == nullptr) return nullptr;
        m->framebuf_ = b;
        m->framebuf_len_ = len;
        m->dirty_ = true;
        return b;
    }
    if (p != nullptr && p == m->framebuf_) {  // not done by nghttp2 1.52; then it is plain memory
        m->framebuf_ = nullptr;
        m->dirty_ = false;
    }
    return std::realloc(p, n);
}

size_t H2Mem::release_idle() {
    if (!dirty_ || framebuf_ == nullptr) return 0;
    dirty_ = false;
    if (madvise(framebuf_, framebuf_len_, MADV_DONTNEED) != 0) return 0;
    return framebuf_len_;
}

}  // namespace sluice::session
