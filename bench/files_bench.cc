// Micro-benchmarks for the files module (BENCHMARK_MAIN lives in another file).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "files/cache.h"
#include "files/mime.h"
#include "files/path.h"
#include "files/root.h"

namespace {

using namespace sluice::files;

// A small served tree under /tmp, built once and removed at exit.
struct BenchTree {
    std::string dir;
    std::optional<Root> root;
    MimeTypes mime = MimeTypes::load();

    BenchTree() {
        std::string tmpl = "/tmp/sluice-files-bench-XXXXXX";
        if (!::mkdtemp(tmpl.data())) std::abort();
        dir = tmpl;
        std::filesystem::create_directories(dir + "/assets/css/vendor");
        write(dir + "/assets/css/vendor/site.min.css", std::string(4096, 'c'));
        write(dir + "/index.html", "<!doctype html><title>bench</title>");
        auto r = Root::open(dir);
        if (!r) std::abort();
        root.emplace(std::move(*r));
    }
    ~BenchTree() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    static void write(const std::string& path, const std::string& body) {
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || ::write(fd, body.data(), body.size()) != static_cast<ssize_t>(body.size())) {
            std::abort();
        }
        ::close(fd);
    }
};

BenchTree& tree() {
    static BenchTree t;
    return t;
}

void BM_CleanTarget(benchmark::State& state) {
    const std::string_view target = "/assets/css/vendor/site.min.css?v=3f2a9c";
    for (auto _ : state) {
        auto p = clean_target(target, false);
        benchmark::DoNotOptimize(p);
    }
}
BENCHMARK(BM_CleanTarget);

void BM_CleanTargetEscaped(benchmark::State& state) {
    const std::string_view target = "/docs/./guide/../caf%C3%A9%20menu/index.html";
    for (auto _ : state) {
        auto p = clean_target(target, false);
        benchmark::DoNotOptimize(p);
    }
}
BENCHMARK(BM_CleanTargetEscaped);

void BM_OpenBeneathNested(benchmark::State& state) {
    const Root& root = *tree().root;
    for (auto _ : state) {
        auto fd = root.open_beneath("assets/css/vendor/site.min.css", O_RDONLY);
        if (!fd) state.SkipWithError("open_beneath failed");
        benchmark::DoNotOptimize(fd);
    }
}
BENCHMARK(BM_OpenBeneathNested);

void BM_CacheLookupWarmHit(benchmark::State& state) {
    BenchTree& t = tree();
    FileCache cache(*t.root, t.mime);
    auto path = clean_target("/assets/css/vendor/site.min.css", false);
    if (!path || cache.lookup(*path, 0).kind != LookupKind::File) {
        state.SkipWithError("warm-up lookup failed");
        return;
    }
    for (auto _ : state) {
        // Always inside the revalidation window: a pure hit.
        auto l = cache.lookup(*path, 1);
        benchmark::DoNotOptimize(l);
    }
}
BENCHMARK(BM_CacheLookupWarmHit);

void BM_MimeLookup(benchmark::State& state) {
    const MimeTypes& mime = tree().mime;
    for (auto _ : state) {
        auto ct = mime.lookup("assets/css/vendor/site.min.CSS");
        benchmark::DoNotOptimize(ct);
    }
}
BENCHMARK(BM_MimeLookup);

}  // namespace
