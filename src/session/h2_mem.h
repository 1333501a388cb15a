// session/h2_mem.h — the allocator one nghttp2 session is given (its nghttp2_mem callbacks):
// malloc's, except the frame buffer. nghttp2 keeps one 16 KiB frame buffer per session for
// life (NGHTTP2_FRAMEBUF_CHUNKLEN, allocated in nghttp2_session_server_new*), though it holds
// nothing once mem_send has returned 0. It gets pages of its own here, so an idle connection
// hands them back to the kernel (MADV_DONTNEED): 16 KiB of the ~25 KiB nghttp2 holds per
// connection. The pages come back zeroed on the next frame, at one page fault each.
#pragma once

#include <cstddef>

namespace sluice::session {

class H2Mem {
public:
    H2Mem() = default;
    H2Mem(const H2Mem&) = delete;
    H2Mem& operator=(const H2Mem&) = delete;

    // nghttp2_mem's callbacks; `self` is this H2Mem (mem_user_data).
    static void* malloc(size_t n, void* self);
    static void free(void* p, void* self);
    static void* calloc(size_t n, size_t size, void* self);
    static void* realloc(void* p, size_t n, void* self);

    // Around nghttp2_session_server_new*: the one allocation of a frame buffer's size made
    // in between is the frame buffer.
    void creating(bool on) { creating_ = on; }
    [[nodiscard]] bool found() const { return framebuf_ != nullptr; }
    // The session may have serialized a frame (mem_send was called).
    void used() { dirty_ = framebuf_ != nullptr; }
    // Only when nghttp2 holds no frame (the last mem_send returned 0): the frame buffer's pages
    // go back to the kernel. Returns the bytes given back (0: none held since the last time).
    size_t release_idle();

private:
    static constexpr size_t kFrameBuf = 16384;  // a frame buffer holds at least one max frame
    void* framebuf_ = nullptr;
    size_t framebuf_len_ = 0;  // page-rounded
    bool creating_ = false;
    bool dirty_ = false;
};

}  // namespace sluice::session
