#include "files/cache.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "temp_tree.h"

namespace sluice::files {
namespace {

using testing::TempTree;

constexpr uint64_t kWindow = 50;

CleanPath clean(std::string_view target) {
    auto p = clean_target(target, false);
    EXPECT_TRUE(p.has_value()) << target;
    return p.value_or(CleanPath{});
}

std::string pread_all(int fd) {
    std::string out;
    char buf[65536];
    off_t off = 0;
    for (;;) {
        ssize_t n = ::pread(fd, buf, sizeof buf, off);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
        off += n;
    }
    return out;
}

void set_mtime(const std::string& path, time_t sec) {
    struct timespec ts[2] = {{sec, 0}, {sec, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), ts, 0), 0);
}

class FileCacheTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto r = Root::open(tree_.root());
        ASSERT_TRUE(r.has_value());
        root_.emplace(std::move(*r));
    }
    FileCache make(CacheLimits limits = {}) {
        limits.revalidate_ms = kWindow;
        return FileCache(*root_, mime_, limits);
    }
    Lookup get(FileCache& c, std::string_view target, uint64_t now) {
        return c.lookup(clean(target), now);
    }

    TempTree tree_;
    std::optional<Root> root_;
    MimeTypes mime_ = MimeTypes::load();
};

TEST_F(FileCacheTest, HitWithinWindowReturnsSameResource) {
    tree_.write("hello.txt", "hello");
    FileCache c = make();
    Lookup a = get(c, "/hello.txt", 1000);
    ASSERT_EQ(a.kind, LookupKind::File);
    ASSERT_TRUE(a.resource);
    const Resource& r = *a.resource;
    EXPECT_EQ(r.rel, "hello.txt");
    EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
    EXPECT_EQ(r.available, 1u);
    const Variant& v = r.variants[0];
    EXPECT_TRUE(v.present);
    EXPECT_TRUE(v.fd.valid());
    EXPECT_TRUE(v.has_bytes);
    EXPECT_EQ(v.bytes, "hello");
    EXPECT_EQ(v.etag, make_etag(v.st));
    EXPECT_EQ(v.st.st_size, 5);
    // The fd is readable and blocking (io_uring/splice would see EAGAIN otherwise).
    EXPECT_EQ(::fcntl(v.fd.get(), F_GETFL) & O_NONBLOCK, 0);
    EXPECT_EQ(pread_all(v.fd.get()), "hello");
    EXPECT_EQ(c.entries(), 1u);
    EXPECT_EQ(c.cached_bytes(), 5u);

    Lookup b = get(c, "/hello.txt", 1000 + kWindow - 1);
    EXPECT_EQ(b.kind, LookupKind::File);
    EXPECT_EQ(b.resource.get(), a.resource.get());
    // Within the window even a change is not looked at (that is the point of the window).
    tree_.write("hello.txt", "changed!");
    Lookup c2 = get(c, "/hello.txt", 1000 + kWindow - 1);
    EXPECT_EQ(c2.resource.get(), a.resource.get());
}

TEST_F(FileCacheTest, UnchangedFileRevalidatesWithoutRebuild) {
    tree_.write("same.txt", "same");
    FileCache c = make();
    Lookup a = get(c, "/same.txt", 1000);
    Lookup b = get(c, "/same.txt", 1000 + 10 * kWindow);
    ASSERT_EQ(b.kind, LookupKind::File);
    EXPECT_EQ(b.resource.get(), a.resource.get());
    EXPECT_EQ(b.resource->validated_ms, 1000 + 10 * kWindow);
}

TEST_F(FileCacheTest, InPlaceRewriteWithDifferentSizeIsNoticedAfterWindow) {
    tree_.write("f.txt", "short");
    FileCache c = make();
    Lookup a = get(c, "/f.txt", 1000);
    ASSERT_EQ(a.kind, LookupKind::File);
    ino_t ino = a.resource->variants[0].st.st_ino;
    std::string old_etag = a.resource->variants[0].etag;

    tree_.write("f.txt", "a much longer body");
    Lookup b = get(c, "/f.txt", 1000 + kWindow);
    ASSERT_EQ(b.kind, LookupKind::File);
    EXPECT_NE(b.resource.get(), a.resource.get());
    EXPECT_EQ(b.resource->variants[0].st.st_ino, ino);  // really the same inode
    EXPECT_NE(b.resource->variants[0].etag, old_etag);
    EXPECT_EQ(b.resource->variants[0].bytes, "a much longer body");
    EXPECT_EQ(c.cached_bytes(), 18u);
    // The old resource is untouched for whoever still holds it.
    EXPECT_EQ(a.resource->variants[0].bytes, "short");
}

TEST_F(FileCacheTest, SameSizeNewMtimeIsNoticedAfterWindow) {
    tree_.write("f.txt", "aaaa");
    set_mtime(tree_.in_root("f.txt"), 1'600'000'000);
    FileCache c = make();
    Lookup a = get(c, "/f.txt", 1000);
    ASSERT_EQ(a.kind, LookupKind::File);

    tree_.write("f.txt", "bbbb");
    set_mtime(tree_.in_root("f.txt"), 1'600'000'005);
    Lookup b = get(c, "/f.txt", 1000 + kWindow);
    ASSERT_EQ(b.kind, LookupKind::File);
    EXPECT_NE(b.resource->variants[0].etag, a.resource->variants[0].etag);
    EXPECT_EQ(b.resource->variants[0].bytes, "bbbb");
    EXPECT_EQ(b.resource->variants[0].st.st_mtim.tv_sec, 1'600'000'005);
}

TEST_F(FileCacheTest, RenameReplacementIsNoticedByInode) {
    tree_.write("f.txt", "old1");
    set_mtime(tree_.in_root("f.txt"), 1'600'000'000);
    FileCache c = make();
    Lookup a = get(c, "/f.txt", 1000);
    ASSERT_EQ(a.kind, LookupKind::File);

    // Same size and same mtime: only the inode tells them apart.
    tree_.write("f.txt.tmp", "new2");
    set_mtime(tree_.in_root("f.txt.tmp"), 1'600'000'000);
    std::filesystem::rename(tree_.in_root("f.txt.tmp"), tree_.in_root("f.txt"));
    Lookup b = get(c, "/f.txt", 1000 + kWindow);
    ASSERT_EQ(b.kind, LookupKind::File);
    EXPECT_NE(b.resource->variants[0].st.st_ino, a.resource->variants[0].st.st_ino);
    EXPECT_NE(b.resource->variants[0].etag, a.resource->variants[0].etag);
    EXPECT_EQ(b.resource->variants[0].bytes, "new2");
    // The old fd still reads the old (now unlinked) file.
    EXPECT_EQ(pread_all(a.resource->variants[0].fd.get()), "old1");
}

TEST_F(FileCacheTest, DeletedFileBecomesNotFoundAfterWindow) {
    tree_.write("gone.txt", "x");
    FileCache c = make();
    EXPECT_EQ(get(c, "/gone.txt", 1000).kind, LookupKind::File);
    tree_.remove("gone.txt");
    EXPECT_EQ(get(c, "/gone.txt", 1000 + kWindow).kind, LookupKind::NotFound);
    EXPECT_EQ(c.entries(), 0u);
}

TEST_F(FileCacheTest, PrecompressedSiblingsAddedAndRemoved) {
    tree_.write("app.js", "console.log(1)");
    FileCache c = make();
    Lookup a = get(c, "/app.js", 1000);
    ASSERT_EQ(a.kind, LookupKind::File);
    EXPECT_EQ(a.resource->available, 1u);
    EXPECT_EQ(a.resource->content_type, "text/javascript; charset=utf-8");

    tree_.write("app.js.gz", "GZBYTES");
    tree_.write("app.js.br", "BR");
    tree_.mkdir("app.js.zst");  // not a regular file: never a variant
    Lookup b = get(c, "/app.js", 1000 + kWindow);
    ASSERT_EQ(b.kind, LookupKind::File);
    const Resource& r = *b.resource;
    EXPECT_EQ(r.available, (1u << 0) | (1u << 1) | (1u << 3));
    EXPECT_TRUE(r.variants[static_cast<int>(Coding::Gzip)].present);
    EXPECT_FALSE(r.variants[static_cast<int>(Coding::Zstd)].present);
    EXPECT_TRUE(r.variants[static_cast<int>(Coding::Br)].present);
    EXPECT_EQ(r.variants[static_cast<int>(Coding::Gzip)].bytes, "GZBYTES");
    EXPECT_EQ(r.variants[static_cast<int>(Coding::Br)].bytes, "BR");
    // Each variant has its own ETag, and the content type stays the identity's.
    EXPECT_NE(r.variants[1].etag, r.variants[0].etag);
    EXPECT_NE(r.variants[3].etag, r.variants[1].etag);
    EXPECT_EQ(r.content_type, "text/javascript; charset=utf-8");
    EXPECT_EQ(c.cached_bytes(), 14u + 7u + 2u);

    // Within the window nothing changes; after it the removal is seen.
    tree_.remove("app.js.gz");
    EXPECT_EQ(get(c, "/app.js", 1000 + kWindow + 1).resource.get(), b.resource.get());
    Lookup d = get(c, "/app.js", 1000 + 2 * kWindow);
    ASSERT_EQ(d.kind, LookupKind::File);
    EXPECT_EQ(d.resource->available, (1u << 0) | (1u << 3));
    EXPECT_FALSE(d.resource->variants[1].present);
}

TEST_F(FileCacheTest, DirectoriesRedirectIndexAndListing) {
    tree_.write("index.html", "<h1>root</h1>");
    tree_.write("site/index.html", "<h1>site</h1>");
    tree_.mkdir("empty");
    tree_.write("plain.txt", "p");
    FileCache c = make();

    EXPECT_EQ(get(c, "/site", 1000).kind, LookupKind::Redirect);
    EXPECT_EQ(get(c, "/empty", 1000).kind, LookupKind::Redirect);

    Lookup site = get(c, "/site/", 1000);
    ASSERT_EQ(site.kind, LookupKind::File);
    EXPECT_EQ(site.resource->rel, "site/index.html");
    EXPECT_EQ(site.resource->content_type, "text/html; charset=utf-8");
    EXPECT_EQ(site.resource->variants[0].bytes, "<h1>site</h1>");

    Lookup top = get(c, "/", 1000);
    ASSERT_EQ(top.kind, LookupKind::File);
    EXPECT_EQ(top.resource->rel, "index.html");

    EXPECT_EQ(get(c, "/empty/", 1000).kind, LookupKind::Directory);
    // A trailing slash on a regular file names nothing.
    EXPECT_EQ(get(c, "/plain.txt/", 1000).kind, LookupKind::NotFound);

    // index.html appearing later turns the listing into the file after the window.
    tree_.write("empty/index.html", "now");
    EXPECT_EQ(get(c, "/empty/", 1000 + kWindow - 1).kind, LookupKind::Directory);
    Lookup later = get(c, "/empty/", 1000 + kWindow);
    ASSERT_EQ(later.kind, LookupKind::File);
    EXPECT_EQ(later.resource->rel, "empty/index.html");

    // And its removal falls back to the listing.
    tree_.remove("site/index.html");
    EXPECT_EQ(get(c, "/site/", 1000 + kWindow).kind, LookupKind::Directory);
}

TEST_F(FileCacheTest, FileCreatedAfter404IsVisibleWithinWindow) {
    FileCache c = make();
    EXPECT_EQ(get(c, "/late.txt", 1000).kind, LookupKind::NotFound);
    tree_.write("late.txt", "here");
    Lookup l = get(c, "/late.txt", 1000 + kWindow);
    ASSERT_EQ(l.kind, LookupKind::File);
    EXPECT_EQ(l.resource->variants[0].bytes, "here");
}

TEST_F(FileCacheTest, FifoAndSocketsAreNotFoundAndNeverBlock) {
    ASSERT_EQ(::mkfifo(tree_.in_root("pipe").c_str(), 0644), 0);
    FileCache c = make();
    // A blocking open of a FIFO without a writer would hang this test.
    EXPECT_EQ(get(c, "/pipe", 1000).kind, LookupKind::NotFound);
    // A FIFO named index.html does not count as an index either.
    tree_.mkdir("d");
    ASSERT_EQ(::mkfifo(tree_.in_root("d/index.html").c_str(), 0644), 0);
    EXPECT_EQ(get(c, "/d/", 1000).kind, LookupKind::Directory);
    // Nor does a FIFO sibling become a variant.
    tree_.write("x.css", "body{}");
    ASSERT_EQ(::mkfifo(tree_.in_root("x.css.gz").c_str(), 0644), 0);
    Lookup x = get(c, "/x.css", 1000);
    ASSERT_EQ(x.kind, LookupKind::File);
    EXPECT_EQ(x.resource->available, 1u);
}

TEST_F(FileCacheTest, SymlinksInsideServeOutsideAreNotFound) {
    tree_.write("real.txt", "real");
    tree_.symlink("real.txt", "alias.txt");
    TempTree::write_abs(tree_.outside() + "/secret.txt", "secret");
    tree_.symlink("../outside/secret.txt", "leak.txt");
    tree_.symlink("/etc/passwd", "passwd");
    FileCache c = make();
    Lookup alias = get(c, "/alias.txt", 1000);
    ASSERT_EQ(alias.kind, LookupKind::File);
    EXPECT_EQ(alias.resource->variants[0].bytes, "real");
    EXPECT_EQ(get(c, "/leak.txt", 1000).kind, LookupKind::NotFound);
    EXPECT_EQ(get(c, "/passwd", 1000).kind, LookupKind::NotFound);
}

// Runs `fn` in a child as uid/gid 65534 (nobody) and returns its exit code.
template <class Fn>
int run_unprivileged(Fn fn) {
    pid_t pid = ::fork();
    if (pid == 0) {
        if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
            ::setresuid(65534, 65534, 65534) != 0) {
            ::_exit(100);
        }
        ::_exit(fn());
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 101;
}

TEST_F(FileCacheTest, UnreadableFileIsForbidden) {
    tree_.write("locked.txt", "no");
    ASSERT_EQ(::chmod(tree_.in_root("locked.txt").c_str(), 0), 0);
    if (::geteuid() == 0) {
        GTEST_SKIP() << "running as root: root bypasses file permissions, so chmod 000 cannot "
                        "produce EACCES here (see UnreadableFileIsForbiddenForUnprivilegedChild)";
    }
    FileCache c = make();
    Lookup l = get(c, "/locked.txt", 1000);
    EXPECT_EQ(l.kind, LookupKind::Forbidden);
    EXPECT_EQ(c.entries(), 0u);
}

TEST_F(FileCacheTest, UnreadableFileIsForbiddenForUnprivilegedChild) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop to uid 65534; covered above";
    tree_.write("locked.txt", "no");
    tree_.write("open.txt", "yes");
    ASSERT_EQ(::chmod(tree_.in_root("locked.txt").c_str(), 0), 0);
    // The temp dir is 0700 (mkdtemp); let "nobody" traverse it.
    ASSERT_EQ(::chmod(std::filesystem::path(tree_.root()).parent_path().c_str(), 0755), 0);
    int rc = run_unprivileged([&] {
        FileCache c = make();
        if (get(c, "/open.txt", 1000).kind != LookupKind::File) return 1;  // control
        if (get(c, "/locked.txt", 1000).kind != LookupKind::Forbidden) return 2;
        if (c.entries() != 1) return 3;  // Forbidden is not cached
        return 0;
    });
    if (rc == 100) GTEST_SKIP() << "could not drop privileges to uid 65534";
    EXPECT_EQ(rc, 0);
}

TEST_F(FileCacheTest, LargeFileHasFdButNoBytes) {
    CacheLimits limits;
    limits.small_max = 1024;
    std::string big(5000, 'x');
    big[4999] = 'y';
    tree_.write("big.bin", big);
    tree_.write("edge.bin", std::string(1024, 'e'));
    FileCache c = make(limits);
    Lookup l = get(c, "/big.bin", 1000);
    ASSERT_EQ(l.kind, LookupKind::File);
    const Variant& v = l.resource->variants[0];
    EXPECT_TRUE(v.present);
    EXPECT_FALSE(v.has_bytes);
    EXPECT_TRUE(v.bytes.empty());
    EXPECT_EQ(v.st.st_size, 5000);
    ASSERT_TRUE(v.fd.valid());
    EXPECT_EQ(pread_all(v.fd.get()), big);
    EXPECT_EQ(c.cached_bytes(), 0u);
    EXPECT_EQ(l.resource->content_type, "application/octet-stream");

    Lookup e = get(c, "/edge.bin", 1000);  // exactly small_max is still held in memory
    ASSERT_EQ(e.kind, LookupKind::File);
    EXPECT_TRUE(e.resource->variants[0].has_bytes);
    EXPECT_EQ(c.cached_bytes(), 1024u);
}

TEST_F(FileCacheTest, EvictionKeepsBytesUnderLimit) {
    CacheLimits limits;
    limits.small_max = 1024;
    limits.max_bytes = 3000;
    FileCache c = make(limits);
    std::vector<std::shared_ptr<Resource>> held;
    for (int i = 0; i < 10; ++i) {
        std::string name = "f";
        name += std::to_string(i);
        name += ".txt";
        tree_.write(name, std::string(1000, static_cast<char>('a' + i)));
        std::string target = "/";
        target += name;
        Lookup l = get(c, target, 1000);
        ASSERT_EQ(l.kind, LookupKind::File);
        held.push_back(l.resource);
        EXPECT_LE(c.cached_bytes(), limits.max_bytes);
    }
    EXPECT_EQ(c.entries(), 3u);
    EXPECT_EQ(c.cached_bytes(), 3000u);
    // Evicted resources stay intact for their holders.
    EXPECT_EQ(held[0]->variants[0].bytes, std::string(1000, 'a'));
    EXPECT_EQ(pread_all(held[0]->variants[0].fd.get()), std::string(1000, 'a'));
    // The most recent ones are still hits; the oldest is rebuilt.
    EXPECT_EQ(get(c, "/f9.txt", 1001).resource.get(), held[9].get());
    EXPECT_NE(get(c, "/f0.txt", 1001).resource.get(), held[0].get());
    EXPECT_LE(c.cached_bytes(), limits.max_bytes);
}

TEST_F(FileCacheTest, EntryLimitEvictsLeastRecentlyUsed) {
    CacheLimits limits;
    limits.max_entries = 2;
    for (const char* n : {"a", "b", "c"}) tree_.write(n, n);
    FileCache c = make(limits);
    auto a = get(c, "/a", 1000).resource;
    auto b = get(c, "/b", 1000).resource;
    EXPECT_EQ(get(c, "/a", 1001).resource.get(), a.get());  // a is now most recent
    get(c, "/c", 1002);                                      // evicts b
    EXPECT_EQ(c.entries(), 2u);
    EXPECT_EQ(get(c, "/a", 1003).resource.get(), a.get());
    EXPECT_NE(get(c, "/b", 1004).resource.get(), b.get());
}

TEST_F(FileCacheTest, ClearDropsEverything) {
    tree_.write("x", "xx");
    FileCache c = make();
    auto first = get(c, "/x", 1000).resource;
    c.clear();
    EXPECT_EQ(c.entries(), 0u);
    EXPECT_EQ(c.cached_bytes(), 0u);
    EXPECT_NE(get(c, "/x", 1000).resource.get(), first.get());
}

TEST_F(FileCacheTest, ErrorsAreReportedAndNotCached) {
    tree_.write("x", "xx");
    FileCache c = make();
    // Lowest free descriptor: with the soft limit set to it, no further fd can be opened.
    int probe_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(probe_fd, 0);
    ::close(probe_fd);
    struct rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
    struct rlimit tight = old;
    tight.rlim_cur = static_cast<rlim_t>(probe_fd);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
    Lookup l = get(c, "/x", 1000);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
    EXPECT_EQ(l.kind, LookupKind::Error);
    EXPECT_EQ(l.err, EMFILE);
    EXPECT_EQ(c.entries(), 0u);
    EXPECT_EQ(get(c, "/x", 1000).kind, LookupKind::File);
}

TEST(ListDirectory, DirectoriesFirstBytewiseAndDotfilesHidden) {
    TempTree t;
    t.write("b.txt", "bb");
    t.write("a.txt", "a");
    t.write("Z", "zzz");
    t.write(".hidden", "h");
    t.write("zdir/x", "x");
    t.mkdir("adir");
    t.mkdir(".git");
    t.symlink("adir", "link_to_dir");
    t.symlink("../outside", "escaping_link");
    t.symlink("missing", "dangling");
    auto root = Root::open(t.root());
    ASSERT_TRUE(root.has_value());

    auto list = list_directory(*root, "", false);
    ASSERT_TRUE(list.has_value()) << list.error().message();
    std::vector<std::string> names;
    for (const DirEntry& e : *list) names.push_back(e.name + (e.is_dir ? "/" : ""));
    EXPECT_EQ(names, (std::vector<std::string>{"adir/", "link_to_dir/", "zdir/", "Z", "a.txt",
                                               "b.txt"}));
    EXPECT_EQ((*list)[3].size, 3u);
    EXPECT_EQ((*list)[5].size, 2u);
    EXPECT_GT((*list)[5].mtime, 0);

    auto all = list_directory(*root, "", true);
    ASSERT_TRUE(all.has_value());
    names.clear();
    for (const DirEntry& e : *all) names.push_back(e.name);
    EXPECT_EQ(names, (std::vector<std::string>{".git", "adir", "link_to_dir", "zdir", ".hidden",
                                               "Z", "a.txt", "b.txt"}));

    auto sub = list_directory(*root, "zdir", false);
    ASSERT_TRUE(sub.has_value());
    ASSERT_EQ(sub->size(), 1u);
    EXPECT_EQ((*sub)[0].name, "x");

    auto not_dir = list_directory(*root, "a.txt", false);
    ASSERT_FALSE(not_dir.has_value());
    EXPECT_EQ(not_dir.error().code, ENOTDIR);
    auto escape = list_directory(*root, "escaping_link", false);
    ASSERT_FALSE(escape.has_value());
    EXPECT_EQ(escape.error().code, EXDEV);
}

}  // namespace
}  // namespace sluice::files
