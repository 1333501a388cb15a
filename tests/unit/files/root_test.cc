#include "files/root.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cinttypes>
#include <cstdio>
#include <string>

#include "temp_tree.h"

namespace sluice::files {
namespace {

using testing::TempTree;

std::string read_all(int fd) {
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

TEST(Root, OpenErrors) {
    TempTree t;
    t.write("file.txt", "x");
    auto missing = Root::open(t.in_root("nope"));
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, ENOENT);
    auto not_dir = Root::open(t.in_root("file.txt"));
    ASSERT_FALSE(not_dir.has_value());
    EXPECT_EQ(not_dir.error().code, ENOTDIR);
    auto ok = Root::open(t.root());
    ASSERT_TRUE(ok.has_value());
    EXPECT_TRUE(ok->fd() >= 0);
    EXPECT_EQ(ok->path(), t.root());
    // O_PATH: the fd refers to the directory, and is close-on-exec.
    EXPECT_EQ(::fcntl(ok->fd(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST(Root, OpensNestedFileAndRootItself) {
    TempTree t;
    t.write("a/b/c/deep.txt", "deep content");
    auto root = Root::open(t.root());
    ASSERT_TRUE(root.has_value());

    auto fd = root->open_beneath("a/b/c/deep.txt", O_RDONLY);
    ASSERT_TRUE(fd.has_value()) << fd.error().message();
    EXPECT_EQ(read_all(fd->get()), "deep content");
    EXPECT_EQ(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

    auto self = root->open_beneath("", O_RDONLY | O_DIRECTORY);
    ASSERT_TRUE(self.has_value());
    auto st = Root::stat_fd(self->get());
    ASSERT_TRUE(st.has_value());
    EXPECT_TRUE(S_ISDIR(st->st_mode));

    auto missing = root->open_beneath("a/b/nope.txt", O_RDONLY);
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, ENOENT);
}

// Watches a canary file outside the root and reports whether anything opened it.
class Canary {
public:
    explicit Canary(const std::string& path) : path_(path) {
        TempTree::write_abs(path, "SECRET");
        ino_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        EXPECT_GE(ino_, 0);
        EXPECT_GE(::inotify_add_watch(ino_, path.c_str(), IN_OPEN | IN_ACCESS), 0);
    }
    ~Canary() { ::close(ino_); }
    bool was_opened() {
        char buf[4096];
        ssize_t n = ::read(ino_, buf, sizeof buf);
        return n > 0;
    }

private:
    std::string path_;
    int ino_ = -1;
};

TEST(Root, SymlinkEscapesFailWithExdevAndNeverTouchTheTarget) {
    TempTree t;
    t.mkdir("sub");
    Canary canary(t.outside() + "/canary.txt");
    auto root = Root::open(t.root());
    ASSERT_TRUE(root.has_value());

    // Relative symlinks climbing out, directly or via a directory link.
    t.symlink("../outside/canary.txt", "escape");
    t.symlink("../../outside", "sub/updir");
    for (const char* rel : {"escape", "sub/updir/canary.txt", "../outside/canary.txt",
                            "sub/../../outside/canary.txt"}) {
        auto fd = root->open_beneath(rel, O_RDONLY);
        ASSERT_FALSE(fd.has_value()) << rel;
        EXPECT_EQ(fd.error().code, EXDEV) << rel;
    }
    EXPECT_FALSE(canary.was_opened());

    // Control: the watcher does see an open, so the assertion above can fail.
    int direct = ::open((t.outside() + "/canary.txt").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(direct, 0);
    ::close(direct);
    EXPECT_TRUE(canary.was_opened());
}

TEST(Root, AbsoluteSymlinksAreRefused) {
    TempTree t;
    t.write("inside.txt", "in");
    t.symlink("/etc/passwd", "passwd");
    // Even an absolute link that points back inside the root is refused: RESOLVE_BENEATH
    // rejects every absolute path component.
    t.symlink(t.in_root("inside.txt"), "abs_inside");
    auto root = Root::open(t.root());
    ASSERT_TRUE(root.has_value());
    for (const char* rel : {"passwd", "abs_inside"}) {
        auto fd = root->open_beneath(rel, O_RDONLY);
        ASSERT_FALSE(fd.has_value()) << rel;
        EXPECT_EQ(fd.error().code, EXDEV) << rel;
    }
}

TEST(Root, SymlinksInsideTheRootWork) {
    TempTree t;
    t.write("real/file.txt", "via link");
    t.symlink("real/file.txt", "file_link");
    t.symlink("real", "dir_link");
    t.mkdir("other");
    t.symlink("../real/file.txt", "other/up_but_inside");
    auto root = Root::open(t.root());
    ASSERT_TRUE(root.has_value());
    for (const char* rel : {"file_link", "dir_link/file.txt", "other/up_but_inside"}) {
        auto fd = root->open_beneath(rel, O_RDONLY);
        ASSERT_TRUE(fd.has_value()) << rel << ": " << fd.error().message();
        EXPECT_EQ(read_all(fd->get()), "via link") << rel;
    }
}

TEST(Root, SymlinkLoopIsEloop) {
    TempTree t;
    t.symlink("loop_b", "loop_a");
    t.symlink("loop_a", "loop_b");
    auto root = Root::open(t.root());
    ASSERT_TRUE(root.has_value());
    auto fd = root->open_beneath("loop_a", O_RDONLY);
    ASSERT_FALSE(fd.has_value());
    EXPECT_EQ(fd.error().code, ELOOP);
}

TEST(Root, MagicLinksAreRefused) {
    // /proc/self holds magic links (root, cwd, exe, fd/N) that jump anywhere in the namespace.
    auto root = Root::open("/proc/self");
    ASSERT_TRUE(root.has_value());
    auto control = root->open_beneath("status", O_RDONLY);
    ASSERT_TRUE(control.has_value()) << control.error().message();
    for (const char* rel : {"root/etc/passwd", "root", "cwd", "exe", "fd/0"}) {
        auto fd = root->open_beneath(rel, O_RDONLY);
        ASSERT_FALSE(fd.has_value()) << rel;
        EXPECT_EQ(fd.error().code, ELOOP) << rel;
    }
}

TEST(Root, OverlongPathIsEnametoolong) {
    TempTree t;
    auto root = Root::open(t.root());
    ASSERT_TRUE(root.has_value());
    std::string rel(5000, 'a');
    auto fd = root->open_beneath(rel, O_RDONLY);
    ASSERT_FALSE(fd.has_value());
    EXPECT_EQ(fd.error().code, ENAMETOOLONG);
}

TEST(MakeEtag, StrongHexOfInodeSizeMtime) {
    struct stat st{};
    st.st_ino = 0x1234;
    st.st_size = 0xabc;
    st.st_mtim.tv_sec = 2;
    st.st_mtim.tv_nsec = 5;
    EXPECT_EQ(make_etag(st), "\"1234-abc-77359405\"");  // 2'000'000'005 ns

    TempTree t;
    t.write("f", "12345");
    auto root = Root::open(t.root());
    ASSERT_TRUE(root.has_value());
    auto fd = root->open_beneath("f", O_RDONLY);
    ASSERT_TRUE(fd.has_value());
    auto real = Root::stat_fd(fd->get());
    ASSERT_TRUE(real.has_value());
    char expect[128];
    std::snprintf(expect, sizeof expect, "\"%" PRIx64 "-5-%" PRIx64 "\"",
                  static_cast<uint64_t>(real->st_ino),
                  static_cast<uint64_t>(real->st_mtim.tv_sec) * 1000000000u +
                      static_cast<uint64_t>(real->st_mtim.tv_nsec));
    EXPECT_EQ(make_etag(*real), expect);
}

TEST(Root, StatFdOfBadFdFails) {
    auto st = Root::stat_fd(-1);
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code, EBADF);
}

}  // namespace
}  // namespace sluice::files
