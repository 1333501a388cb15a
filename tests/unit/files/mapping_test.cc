// files::Mapping (whole-file read-only mappings) and base::run_guarded (SIGBUS from a file that
// shrank under its mapping becomes a return value, not a crash).
#include "files/mapping.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/sigbus.h"

namespace {

using sluice::files::Mapping;

struct TempFile {
    std::string path;
    int fd = -1;
    explicit TempFile(size_t size, char fill = 'x') {
        char tmpl[] = "/tmp/sluice-map-XXXXXX";
        fd = mkstemp(tmpl);
        path = tmpl;
        std::string data(size, fill);
        for (size_t i = 0; i < size; i += 4096) data[i] = static_cast<char>(i / 4096);
        EXPECT_EQ(write(fd, data.data(), size), static_cast<ssize_t>(size));
        fsync(fd);  // clean pages: fadvise(DONTNEED) can then drop them
    }
    ~TempFile() {
        close(fd);
        unlink(path.c_str());
    }
};

TEST(Mapping, MapsTheWholeFile) {
    TempFile f(3 * 4096 + 100);
    auto m = Mapping::create(f.fd, 3 * 4096 + 100);
    ASSERT_TRUE(m) << m.error().code;
    EXPECT_EQ(m->size(), 3u * 4096 + 100);
    EXPECT_EQ(m->data()[0], 0);
    EXPECT_EQ(m->data()[2 * 4096], 2);
    EXPECT_EQ(m->data()[3 * 4096 + 99], 'x');
    Mapping moved = std::move(*m);
    EXPECT_FALSE(*m);
    EXPECT_TRUE(moved);
    EXPECT_EQ(moved.data()[4096], 1);
}

TEST(Mapping, RefusesEmptyAndBadFd) {
    TempFile f(0);
    EXPECT_FALSE(Mapping::create(f.fd, 0));
    auto bad = Mapping::create(-1, 4096);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, EINVAL);
}

TEST(Mapping, ResidentFollowsThePageCache) {
    const size_t size = 64 * 4096;
    TempFile f(size);
    auto m = Mapping::create(f.fd, size);
    ASSERT_TRUE(m);
    std::string sink(size, 0);
    ASSERT_EQ(pread(f.fd, sink.data(), size, 0), static_cast<ssize_t>(size));
    EXPECT_TRUE(m->resident(0, size));
    EXPECT_TRUE(m->resident(4096 * 10 + 7, 100000));
    EXPECT_TRUE(m->resident(size, 0));
    EXPECT_FALSE(m->resident(0, size + 1));   // past the end
    EXPECT_FALSE(m->resident(size + 1, 0));
    // Dropped from the page cache (clean pages; tmpfs keeps them, so only check when it did).
    ASSERT_EQ(posix_fadvise(f.fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    unsigned char v = 0;
    if (mincore(const_cast<char*>(m->data()), 4096, &v) == 0 && (v & 1) == 0) {
        EXPECT_FALSE(m->resident(0, size));
        ASSERT_EQ(pread(f.fd, sink.data(), 4096, 0), 4096);
        EXPECT_TRUE(m->resident(0, 4096));
    }
}

struct ReadArgs {
    const char* p;
    size_t n;
    unsigned long sum;
};

void sum_bytes(void* a) {
    auto* r = static_cast<ReadArgs*>(a);
    unsigned long s = 0;
    for (size_t i = 0; i < r->n; i += 64) s += static_cast<unsigned char>(r->p[i]);
    r->sum = s;
}

TEST(SigbusGuard, TruncatedFileBecomesFalse) {
    sluice::base::install_sigbus_guard();
    const size_t size = 16 * 4096;
    TempFile f(size);
    auto m = Mapping::create(f.fd, size);
    ASSERT_TRUE(m);
    ReadArgs a{m->data(), size, 0};
    EXPECT_TRUE(sluice::base::run_guarded(a.p, a.n, sum_bytes, &a));
    EXPECT_GT(a.sum, 0u);
    ASSERT_EQ(ftruncate(f.fd, 4096), 0);  // everything after the first page now faults
    for (int i = 0; i < 3; ++i) {         // the guard re-arms: SIGBUS is not left blocked
        ReadArgs b{m->data() + 8192, 4096, 0};
        EXPECT_FALSE(sluice::base::run_guarded(b.p, b.n, sum_bytes, &b));
    }
    ReadArgs c{m->data(), 4096, 0};  // the page still inside the file reads fine
    EXPECT_TRUE(sluice::base::run_guarded(c.p, c.n, sum_bytes, &c));
}

TEST(SigbusGuard, UnguardedFaultStillKills) {
    // A SIGBUS outside a guarded range must not be swallowed.
    const size_t size = 4 * 4096;
    TempFile f(size);
    auto m = Mapping::create(f.fd, size);
    ASSERT_TRUE(m);
    ASSERT_EQ(ftruncate(f.fd, 0), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        sluice::base::install_sigbus_guard();
        ReadArgs a{m->data(), 4096, 0};
        // Guarded, but over a different range than the faulting access.
        (void)sluice::base::run_guarded(m->data() + 3 * 4096, 1, sum_bytes, &a);
        _exit(0);
    }
    int st = 0;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(st)) << st;
    EXPECT_EQ(WTERMSIG(st), SIGBUS);
}

}  // namespace
