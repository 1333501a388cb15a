#include "output/queue.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include "files/cache.h"

namespace sluice::output {
namespace {

// The bytes of the memory pieces from the front, as a sender would gather them.
std::string gather(const Queue& q) {
    std::string out;
    for (size_t i = 0; i < q.pieces(); ++i) {
        const Piece& p = q.piece(i);
        if (p.is_file()) break;
        out.append(p.data, p.len);
    }
    return out;
}

TEST(Queue, CopiesMergeIntoOnePiece) {
    BufferPool pool;
    Queue q(&pool);
    q.copy("HTTP/1.1 200 OK\r\n");
    q.copy("\r\nbody");
    EXPECT_EQ(q.pieces(), 1u);
    EXPECT_EQ(gather(q), "HTTP/1.1 200 OK\r\n\r\nbody");
    EXPECT_EQ(q.end(), 23u);
    EXPECT_EQ(q.unsent(), 23u);
}

TEST(Queue, PositionsAndCursors) {
    BufferPool pool;
    Queue q(&pool);
    q.copy("abcdef");
    const uint64_t mark = q.end();
    q.copy("ghij");
    q.take(4);
    EXPECT_EQ(q.taken(), 4u);
    EXPECT_EQ(q.sent(), 0u);
    q.sent(3);
    EXPECT_EQ(q.sent(), 3u);
    EXPECT_LT(q.sent(), mark);
    EXPECT_EQ(gather(q), "efghij");
    q.take(6);
    q.all_sent();
    EXPECT_TRUE(q.idle());
    EXPECT_GE(q.sent(), mark);
    // sent() never passes taken()
    q.copy("x");
    q.sent(100);
    EXPECT_EQ(q.sent(), q.taken());
}

TEST(Queue, BlocksNeverMoveWhileAppending) {
    BufferPool pool;
    Queue q(&pool);
    q.copy("first");
    const char* p = q.piece(0).data;
    // Enough to need several blocks: the first piece's bytes stay where they were.
    std::string big(BufferPool::kBlockSize - 100, 'y');
    for (int i = 0; i < 5; ++i) q.copy(big);
    EXPECT_EQ(q.piece(0).data, p);
    EXPECT_EQ(std::string(p, 5), "first");
    EXPECT_EQ(q.end(), 5 + 5 * big.size());
}

TEST(Queue, BlocksGoBackWhenTaken) {
    BufferPool pool;
    {
        Queue q(&pool);
        std::string big(BufferPool::kBlockSize - 10, 'z');
        q.copy(big);
        q.copy(big);  // a second block
        EXPECT_EQ(pool.kept(), 0u);
        q.take(big.size());
        EXPECT_EQ(pool.kept(), 1u);  // the first block, no longer needed
        q.take(big.size());
        EXPECT_EQ(pool.kept(), 2u);  // empty queue: it holds no block
        q.copy("again");             // from the pool
        EXPECT_EQ(pool.kept(), 1u);
    }
    EXPECT_EQ(pool.kept(), 2u);  // destroyed with a block: back to the pool
}

TEST(Queue, BigCopyGetsItsOwnBlock) {
    BufferPool pool;
    Queue q(&pool);
    std::string huge(3 * BufferPool::kBlockSize, 'h');
    q.copy(huge);
    EXPECT_EQ(q.pieces(), 1u);
    EXPECT_EQ(gather(q), huge);
    q.take(huge.size());
    EXPECT_EQ(pool.kept(), 0u);  // not pooled: only standard blocks are
}

TEST(Queue, RefAndFilePiecesKeepTheirHold) {
    BufferPool pool;
    Queue q(&pool);
    auto res = std::make_shared<files::Resource>();
    std::weak_ptr<files::Resource> weak = res;
    static const char kBody[] = "cached body";
    q.copy("head");
    q.ref(kBody, 11, res);
    q.file(res->variants[0], 7, 100, 5000, res);
    res.reset();
    EXPECT_FALSE(weak.expired());
    EXPECT_EQ(q.pieces(), 3u);
    EXPECT_TRUE(q.has_file());
    EXPECT_EQ(gather(q), "headcached body");
    q.take(4 + 11);
    EXPECT_FALSE(weak.expired());  // the file piece still holds it
    ASSERT_EQ(q.pieces(), 1u);
    const Piece& f = q.piece(0);
    EXPECT_TRUE(f.is_file());
    EXPECT_EQ(f.fd, 7);
    EXPECT_EQ(f.file_off, 100u);
    q.take(1000);
    EXPECT_EQ(q.piece(0).file_off, 1100u);
    EXPECT_EQ(q.piece(0).len, 4000u);
    q.take(4000);
    EXPECT_TRUE(weak.expired());
    EXPECT_FALSE(q.has_file());
    EXPECT_TRUE(q.all_taken());
}

// HTTP/2 payloads of cold pages: the transport turns `read` file pieces into memory in place
// (one READV into the returned slots), then sends headers and payloads as memory.
TEST(Queue, FillTurnsReadPiecesIntoMemoryInPlace) {
    BufferPool pool;
    auto res = std::make_shared<files::Resource>();
    {
        Queue q(&pool);
        q.copy("H1-------");
        q.file(res->variants[0], 7, 0, 16375, res, /*read=*/true);
        q.copy("H2-------");
        q.file(res->variants[0], 7, 16375, 100, res, /*read=*/true);
        q.file(res->variants[0], 7, 16475, 5000, res);  // spliced: not for fill()
        q.file(res->variants[0], 7, 0, BufferPool::kBlockSize + 1, res, true);  // too big to fill
        ASSERT_EQ(q.pieces(), 6u);
        EXPECT_TRUE(q.piece(1).read);
        EXPECT_FALSE(q.piece(4).read);
        EXPECT_FALSE(q.piece(5).read);
        const uint64_t end = q.end();
        char* a = q.fill(1);
        char* b = q.fill(3);
        ASSERT_NE(a, nullptr);
        ASSERT_NE(b, nullptr);
        std::memset(a, 'a', 16375);
        std::memset(b, 'b', 100);
        EXPECT_EQ(q.end(), end);  // positions unchanged
        EXPECT_FALSE(q.piece(1).is_file());
        EXPECT_FALSE(q.piece(1).read);
        EXPECT_EQ(gather(q),
                  "H1-------" + std::string(16375, 'a') + "H2-------" + std::string(100, 'b'));
        EXPECT_EQ(pool.kept(), 0u);
        q.take(9 + 16375);
        EXPECT_EQ(pool.kept(), 1u);  // the first payload's block goes back once it is taken
        q.take(9 + 99);
        EXPECT_EQ(pool.kept(), 1u);  // one byte of the second still untaken
        q.take(1);
        EXPECT_EQ(pool.kept(), 2u);
        ASSERT_TRUE(q.piece(0).is_file());
    }
    EXPECT_GE(pool.kept(), 3u);  // every block is back after the queue is gone
    {
        Queue q(&pool);  // clear() returns filled blocks nobody took
        q.file(res->variants[0], 7, 0, 10, res, true);
        const size_t kept = pool.kept();
        q.fill(0);
        EXPECT_EQ(pool.kept(), kept - 1);
        q.clear();
        EXPECT_EQ(pool.kept(), kept);
    }
}

TEST(Queue, NoMergeAcrossARef) {
    BufferPool pool;
    Queue q(&pool);
    q.copy("a");
    q.ref("bb", 2, nullptr);
    q.copy("c");
    EXPECT_EQ(q.pieces(), 3u);
    EXPECT_EQ(gather(q), "abbc");
}

TEST(Queue, ClearDropsEverythingAndRestartsPositions) {
    BufferPool pool;
    Queue q(&pool);
    auto res = std::make_shared<files::Resource>();
    std::weak_ptr<files::Resource> weak = res;
    q.copy("abc");
    q.ref("xyz", 3, res);
    res.reset();
    q.take(1);
    q.clear();
    EXPECT_TRUE(weak.expired());
    EXPECT_EQ(q.pieces(), 0u);
    EXPECT_EQ(q.end(), 0u);
    EXPECT_EQ(q.sent(), 0u);
    EXPECT_EQ(pool.kept(), 1u);
}

// HTTP/2 DATA-sized slots: one per block.
void slots(Queue& q, int n, char first = 'a') {
    for (int i = 0; i < n; ++i) std::memset(q.append(BufferPool::kBlockSize), first + i,
                                            BufferPool::kBlockSize);
}

TEST(Queue, UnexposedIsPastThePiecesHandedOut) {
    BufferPool pool;
    Queue q(&pool);
    slots(q, 4);
    constexpr uint64_t B = BufferPool::kBlockSize;
    EXPECT_EQ(q.unexposed(), 0u);  // nothing handed to a consumer yet
    (void)q.piece(1);              // a sender gathering two pieces into one sendmsg
    EXPECT_EQ(q.unexposed(), 2 * B);
    q.take(B + 100);               // the send completed short
    EXPECT_EQ(q.unexposed(), 2 * B);
    q.take(B - 100);
    EXPECT_EQ(q.unexposed(), 2 * B);  // nothing beyond the taken bytes is handed out
    (void)q.piece(0);
    EXPECT_EQ(q.unexposed(), 3 * B);
    q.take(2 * B);
    EXPECT_TRUE(q.all_taken());
    EXPECT_EQ(q.unexposed(), 4 * B);
}

TEST(Queue, DropFromCutsWhatNoConsumerHolds) {
    BufferPool pool;
    Queue q(&pool);
    auto res = std::make_shared<files::Resource>();
    std::weak_ptr<files::Resource> weak = res;
    constexpr uint64_t B = BufferPool::kBlockSize;
    slots(q, 3);                                      // [0, 3B)
    q.file(res->variants[0], 7, 0, 5000, res);        // [3B, 3B + 5000)
    slots(q, 2, 'x');                                 // then two more blocks
    res.reset();
    EXPECT_EQ(pool.kept(), 0u);
    (void)q.piece(0);  // a send in flight from the first slot
    q.take(100);
    // Asked to cut inside the exposed piece: raised to its end.
    EXPECT_EQ(q.drop_from(50), 4 * B + 5000);
    EXPECT_EQ(q.end(), B);
    EXPECT_TRUE(weak.expired());       // the dropped file piece let its hold go
    EXPECT_EQ(pool.kept(), 4u);        // the dropped slots' blocks, back to the pool
    EXPECT_EQ(q.pieces(), 1u);
    EXPECT_EQ(q.piece(0).len, B - 100);
    // Later bytes follow the cut, as a new piece.
    q.copy("GOAWAY");
    EXPECT_EQ(q.end(), B + 6);
    ASSERT_EQ(q.pieces(), 2u);
    EXPECT_EQ(std::string(q.piece(1).data, 6), "GOAWAY");
    q.take(B - 100 + 6);
    q.all_sent();
    EXPECT_TRUE(q.idle());
    EXPECT_EQ(pool.kept(), 5u);
}

TEST(Queue, DropFromInsideAPieceKeepsItsHead) {
    BufferPool pool;
    Queue q(&pool);
    q.copy("frame-one|");
    q.copy("frame-two|");  // merged into one piece
    q.copy("frame-three|");
    ASSERT_EQ(q.pieces(), 1u);
    EXPECT_EQ(q.drop_from(20), 12u);
    EXPECT_EQ(q.end(), 20u);
    EXPECT_EQ(gather(q), "frame-one|frame-two|");
    q.copy("end");
    EXPECT_EQ(gather(q), "frame-one|frame-two|end");
    EXPECT_EQ(q.end(), 23u);
    EXPECT_EQ(q.drop_from(q.end()), 0u);   // nothing past the end
    EXPECT_EQ(q.drop_from(0), 0u);         // gather() handed every piece out: nothing to drop
    q.take(23);
    EXPECT_TRUE(q.all_taken());
    EXPECT_EQ(pool.kept(), 1u);
}

TEST(Queue, ManyPiecesCompact) {
    BufferPool pool;
    Queue q(&pool);
    for (int i = 0; i < 1000; ++i) q.ref("p", 1, nullptr);
    for (int i = 0; i < 999; ++i) q.take(1);
    EXPECT_EQ(q.pieces(), 1u);
    EXPECT_EQ(q.unsent(), 1000u);
    q.take(1);
    EXPECT_TRUE(q.all_taken());
}

}  // namespace
}  // namespace sluice::output
