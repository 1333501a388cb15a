// output/queue.h — one connection's output in send order: memory pieces (copied into the
// queue's own blocks, or referenced and kept alive by a hold) and file extents (sent by splice,
// sealed from a mapping, or read into memory by the transport: see fill()). No I/O.
//
// Positions, not indices: every byte ever queued has a position in the connection's output
// stream. A session remembers end() after a response and knows the response is on the socket
// once sent() passes it; many streams (HTTP/2) interleave without the queue knowing them.
// Two cursors: taken() — handed to the kernel or the sealer for good (a piece's memory and hold
// are released here) — and sent() ≤ taken() — written to the socket (bytes in a splice pipe or
// in sealed records not yet sent count as taken, not sent).
//
// Copied bytes live in fixed blocks that never move, so a send may be in flight from one while
// more is appended (HTTP/2 produces while it writes). Blocks come from a BufferPool and go back
// as soon as every byte in them was taken: an idle connection holds none.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace sluice::files {
struct Resource;
struct Variant;
}

namespace sluice::output {

using Hold = std::shared_ptr<const files::Resource>;

// Fixed-size blocks shared by the connections of one worker (not thread-safe).
class BufferPool {
public:
    static constexpr size_t kBlockSize = 16 * 1024;
    explicit BufferPool(size_t keep_max = 256) : keep_max_(keep_max) {}
    BufferPool(const BufferPool&) = delete;
    BufferPool& operator=(const BufferPool&) = delete;
    std::unique_ptr<char[]> get();
    void put(std::unique_ptr<char[]> b);
    [[nodiscard]] size_t kept() const { return free_.size(); }

private:
    size_t keep_max_;
    std::vector<std::unique_ptr<char[]>> free_;
};

struct Piece {
    const char* data = nullptr;             // memory: the next untaken byte
    const files::Variant* file = nullptr;   // file: the variant (its fd, its mapping)
    int fd = -1;                            // file: >= 0
    uint64_t file_off = 0;                  // file: offset of the next untaken byte
    uint64_t len = 0;                       // bytes not yet taken
    Hold hold;                              // keeps `data` or the file alive until taken
    bool read = false;                      // file: to be read into memory (Queue::fill)
    [[nodiscard]] bool is_file() const { return fd >= 0; }
};

class Queue {
public:
    explicit Queue(BufferPool* pool = nullptr) : pool_(pool) {}
    Queue(const Queue&) = delete;
    Queue& operator=(const Queue&) = delete;
    ~Queue();

    // ---- producing (the session) ----
    void copy(std::string_view bytes);
    // `n` contiguous bytes at the end of the queue for the caller to fill now (an HTTP/2 frame
    // header and its payload in one slot, so the slot goes out as one iovec).
    char* append(size_t n);
    void ref(const char* data, uint64_t len, Hold hold);
    // `read`: the transport reads the extent into memory (Queue::fill) instead of splicing it;
    // at most one block (an HTTP/2 frame's payload).
    void file(const files::Variant& v, int fd, uint64_t off, uint64_t len, Hold hold,
              bool read = false);

    [[nodiscard]] uint64_t end() const { return end_; }
    [[nodiscard]] uint64_t taken() const { return taken_; }
    [[nodiscard]] uint64_t sent() const { return sent_; }
    [[nodiscard]] uint64_t unsent() const { return end_ - sent_; }  // the high-water measure
    [[nodiscard]] bool all_taken() const { return taken_ == end_; }
    [[nodiscard]] bool idle() const { return sent_ == end_; }
    // A file piece is waiting to be taken (HTTP/1 stops batching behind a spliced body).
    [[nodiscard]] bool has_file() const;

    // ---- dropping (the session) ----
    // Just past the last piece the consumer was handed by piece(): an operation in flight (a
    // send, a splice, a file read) references bytes before it only, never from it on.
    [[nodiscard]] uint64_t unexposed() const;
    // Drops the bytes from position `at` on (raised to unexposed(), at most end()): output no
    // longer to be sent (HTTP/2 after a flood; `at` a frame boundary the caller knows).
    // end() becomes that position; later bytes follow it. Returns the bytes dropped.
    uint64_t drop_from(uint64_t at);

    // ---- consuming (the transport) ----
    [[nodiscard]] size_t pieces() const { return pieces_.size() - head_; }
    [[nodiscard]] Piece& piece(size_t i) { return pieces_[expose(head_ + i)]; }
    [[nodiscard]] const Piece& piece(size_t i) const { return pieces_[expose(head_ + i)]; }
    // The first `n` untaken bytes are handed over: pieces advance, finished ones (and blocks
    // no piece needs any more) are released.
    void take(uint64_t n);
    // Untaken `read` file piece i becomes a memory piece in a pooled block of its own (placed
    // right where the file bytes go in the stream); the caller reads the file into the
    // returned piece.len bytes before taking any of them.
    char* fill(size_t i);
    // `n` more taken bytes reached the socket.
    void sent(uint64_t n) { sent_ = sent_ + n > taken_ ? taken_ : sent_ + n; }
    // Everything taken is on the socket (no pipe, no sealed records pending).
    void all_sent() { sent_ = taken_; }

    // The connection ends: every piece and block is dropped and positions start again at 0.
    void clear();

private:
    struct Block {
        std::unique_ptr<char[]> mem;
        size_t cap = 0;
        size_t used = 0;
        uint64_t last_end = 0;  // stream position just past the last byte copied into it
        bool pooled = false;
    };
    Block new_block(size_t n);  // pooled when n fits a standard block
    void give_back(Block& b);   // to the pool, if it came from there
    size_t expose(size_t k) const {
        if (k >= exposed_) exposed_ = k + 1;
        return k;
    }
    Block& block_for(size_t n);
    void release_blocks();
    void push(Piece&& p);

    BufferPool* pool_;
    std::vector<Piece> pieces_;
    size_t head_ = 0;
    mutable size_t exposed_ = 0;  // pieces_[0, exposed_) were handed out by piece()
    std::vector<Block> blocks_;
    std::vector<Block> filled_;  // blocks of fill(), in stream order
    uint64_t end_ = 0;
    uint64_t taken_ = 0;
    uint64_t sent_ = 0;
    bool tail_mergeable_ = false;  // the last piece ends where the tail block's free space starts
};

}  // namespace sluice::output
