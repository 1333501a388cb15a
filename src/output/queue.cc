#include "output/queue.h"

#include <algorithm>
#include <cstring>

namespace sluice::output {

std::unique_ptr<char[]> BufferPool::get() {
    if (free_.empty()) return std::make_unique_for_overwrite<char[]>(kBlockSize);
    std::unique_ptr<char[]> b = std::move(free_.back());
    free_.pop_back();
    return b;
}

void BufferPool::put(std::unique_ptr<char[]> b) {
    if (free_.size() < keep_max_) free_.push_back(std::move(b));
}

Queue::~Queue() { clear(); }

Queue::Block Queue::new_block(size_t n) {
    Block b;
    if (n <= BufferPool::kBlockSize) {
        b.mem = pool_ ? pool_->get() : std::make_unique_for_overwrite<char[]>(BufferPool::kBlockSize);
        b.cap = BufferPool::kBlockSize;
        b.pooled = pool_ != nullptr;
    } else {
        b.mem = std::make_unique_for_overwrite<char[]>(n);
        b.cap = n;
    }
    return b;
}

void Queue::give_back(Block& b) {
    if (b.pooled && pool_) pool_->put(std::move(b.mem));
}

Queue::Block& Queue::block_for(size_t n) {
    if (!blocks_.empty()) {
        Block& t = blocks_.back();
        if (t.cap - t.used >= n) return t;
    }
    tail_mergeable_ = false;
    blocks_.push_back(new_block(n));
    return blocks_.back();
}

void Queue::push(Piece&& p) {
    end_ += p.len;
    pieces_.push_back(std::move(p));
}

void Queue::copy(std::string_view bytes) {
    if (bytes.empty()) return;
    std::memcpy(append(bytes.size()), bytes.data(), bytes.size());
}

char* Queue::append(size_t n) {
    Block& b = block_for(n);
    char* dst = b.mem.get() + b.used;
    b.used += n;
    if (tail_mergeable_ && pieces() > 0 && pieces_.back().data + pieces_.back().len == dst) {
        pieces_.back().len += n;  // contiguous: one iovec
        end_ += n;
    } else {
        push(Piece{dst, nullptr, -1, 0, n, {}});
    }
    b.last_end = end_;
    tail_mergeable_ = true;
    return dst;
}

void Queue::ref(const char* data, uint64_t len, Hold hold) {
    if (len == 0) return;
    tail_mergeable_ = false;
    push(Piece{data, nullptr, -1, 0, len, std::move(hold)});
}

void Queue::file(const files::Variant& v, int fd, uint64_t off, uint64_t len, Hold hold,
                 bool read) {
    if (len == 0) return;
    tail_mergeable_ = false;
    push(Piece{nullptr, &v, fd, off, len, std::move(hold), read && len <= BufferPool::kBlockSize});
}

char* Queue::fill(size_t i) {
    uint64_t last_end = taken_;
    for (size_t k = 0; k <= i; ++k) last_end += pieces_[head_ + k].len;
    Piece& p = pieces_[expose(head_ + i)];
    Block b = new_block(BufferPool::kBlockSize);
    b.used = static_cast<size_t>(p.len);
    b.last_end = last_end;
    p.data = b.mem.get();
    p.fd = -1;
    p.file = nullptr;
    p.file_off = 0;
    p.read = false;
    filled_.push_back(std::move(b));
    return const_cast<char*>(p.data);
}

bool Queue::has_file() const {
    for (size_t i = head_; i < pieces_.size(); ++i)
        if (pieces_[i].is_file()) return true;
    return false;
}

void Queue::take(uint64_t n) {
    n = std::min(n, end_ - taken_);
    taken_ += n;
    while (n > 0 && head_ < pieces_.size()) {
        Piece& p = pieces_[head_];
        const uint64_t k = std::min(n, p.len);
        p.len -= k;
        if (p.is_file())
            p.file_off += k;
        else
            p.data += k;
        n -= k;
        if (p.len == 0) {
            p.hold.reset();
            ++head_;
        }
    }
    if (head_ == pieces_.size()) {
        pieces_.clear();
        head_ = exposed_ = 0;
        tail_mergeable_ = false;
    } else if (head_ >= 64 && head_ * 2 >= pieces_.size()) {
        pieces_.erase(pieces_.begin(), pieces_.begin() + static_cast<ptrdiff_t>(head_));
        exposed_ = exposed_ > head_ ? exposed_ - head_ : 0;
        head_ = 0;
    }
    release_blocks();
}

// A block goes back once every byte copied into it is taken (a memory piece is taken only when
// its send completed, or after it was sealed into records of their own).
void Queue::release_blocks() {
    size_t f = 0;
    while (f < filled_.size() && filled_[f].last_end <= taken_) give_back(filled_[f++]);
    if (f > 0) filled_.erase(filled_.begin(), filled_.begin() + static_cast<ptrdiff_t>(f));
    size_t done = 0;
    while (done < blocks_.size() && blocks_[done].last_end <= taken_) {
        // The tail block may still take copies while its bytes so far are all out; it goes back
        // too when the queue is empty of untaken bytes, so an idle connection holds nothing.
        if (done + 1 == blocks_.size() && taken_ != end_) break;
        ++done;
    }
    if (done == 0) return;
    if (done == blocks_.size()) tail_mergeable_ = false;
    for (size_t i = 0; i < done; ++i) give_back(blocks_[i]);
    blocks_.erase(blocks_.begin(), blocks_.begin() + static_cast<ptrdiff_t>(done));
}

uint64_t Queue::unexposed() const {
    uint64_t pos = taken_;
    for (size_t i = head_; i < exposed_ && i < pieces_.size(); ++i) pos += pieces_[i].len;
    return pos;
}

uint64_t Queue::drop_from(uint64_t at) {
    at = std::min(std::max(at, unexposed()), end_);
    if (at == end_) return 0;
    // The piece holding `at` keeps its bytes before it; every later piece goes (with its hold).
    uint64_t pos = taken_;
    size_t i = head_;
    while (i < pieces_.size() && pos + pieces_[i].len <= at) pos += pieces_[i++].len;
    if (i < pieces_.size() && at > pos) pieces_[i++].len = at - pos;
    pieces_.erase(pieces_.begin() + static_cast<ptrdiff_t>(i), pieces_.end());
    const uint64_t dropped = end_ - at;
    end_ = at;
    // Blocks fill in position order: one whose predecessor reaches `at` holds only dropped
    // bytes. The last one left may take copies again (as a new piece, after the gap).
    while (blocks_.size() >= 2 && blocks_[blocks_.size() - 2].last_end >= at) {
        give_back(blocks_.back());
        blocks_.pop_back();
    }
    if (!blocks_.empty()) blocks_.back().last_end = std::min(blocks_.back().last_end, at);
    tail_mergeable_ = false;
    release_blocks();
    return dropped;
}

void Queue::clear() {
    pieces_.clear();
    head_ = exposed_ = 0;
    end_ = taken_ = sent_ = 0;
    for (Block& b : blocks_) give_back(b);
    blocks_.clear();
    for (Block& b : filled_) give_back(b);
    filled_.clear();
    tail_mergeable_ = false;
}

}  // namespace sluice::output
