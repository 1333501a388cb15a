// Micro-benchmarks for the http module: request parsing and response planning.
#include <benchmark/benchmark.h>

#include <array>
#include <string>

#include "http/parser.h"
#include "http/range.h"
#include "http/response.h"

namespace sluice::http {
namespace {

constexpr std::string_view kBrowserGet =
    "GET /static/css/site.min.css?v=20240101 HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: text/css,*/*;q=0.1\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Referer: https://www.example.com/\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n"
    "Sec-Fetch-Dest: style\r\n"
    "Sec-Fetch-Mode: no-cors\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "If-None-Match: \"65a1b2c3-1f40\"\r\n"
    "If-Modified-Since: Fri, 12 Jan 2024 10:00:00 GMT\r\n"
    "\r\n";

void BM_ParseBrowserGet(benchmark::State& state) {
    RequestParser parser;
    Request req;
    for (auto _ : state) {
        ParseOutcome o = parser.feed(kBrowserGet, req);
        benchmark::DoNotOptimize(o);
        if (o.status != ParseStatus::Complete) state.SkipWithError("parse failed");
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBrowserGet.size()));
}
BENCHMARK(BM_ParseBrowserGet);

void BM_ParsePipelined16(benchmark::State& state) {
    std::string data;
    for (int i = 0; i < 16; ++i) {
        data += "GET /img/" + std::to_string(i) +
                ".png HTTP/1.1\r\nHost: example.com\r\nAccept-Encoding: gzip\r\n\r\n";
    }
    RequestParser parser;
    Request req;
    for (auto _ : state) {
        std::string_view rest = data;
        int n = 0;
        while (!rest.empty()) {
            ParseOutcome o = parser.feed(rest, req);
            if (o.status != ParseStatus::Complete) break;
            rest.remove_prefix(o.consumed);
            ++n;
        }
        if (n != 16) state.SkipWithError("pipelined parse failed");
        benchmark::DoNotOptimize(req);
    }
    state.SetItemsProcessed(state.iterations() * 16);
}
BENCHMARK(BM_ParsePipelined16);

void BM_Plan200(benchmark::State& state) {
    Request req;
    req.method = Method::Get;
    Representation rep;
    rep.length = 123456;
    rep.mtime = 1700000000;
    rep.etag = "\"65a1b2c3-1e240\"";
    rep.content_type = "text/css; charset=utf-8";
    rep.encoding = Encoding::Br;
    rep.vary_accept_encoding = true;
    ServerInfo info;
    info.date = "Wed, 01 Jan 2025 00:00:00 GMT";
    ResponsePlan plan;
    std::string head;
    for (auto _ : state) {
        plan_file_response(req, rep, info, plan);
        head.clear();
        render_h1_head(plan, 1, head);
        benchmark::DoNotOptimize(head.data());
    }
}
BENCHMARK(BM_Plan200);

// The hot path: a whole-body 200 of a cached variant (its fields prerendered once).
void BM_Plan200Prerendered(benchmark::State& state) {
    Request req;
    req.method = Method::Get;
    Representation rep;
    rep.length = 1024;
    rep.mtime = 1700000000;
    rep.etag = "\"65a1b2c3-400\"";
    rep.content_type = "application/octet-stream";
    std::string h1;
    std::array<uint16_t, kPrerenderIndexLen> index{};
    if (!prerender_representation(rep, h1, index)) state.SkipWithError("prerender failed");
    rep.prerendered = h1;
    rep.prerendered_index = index;
    ServerInfo info;
    info.date = "Wed, 01 Jan 2025 00:00:00 GMT";
    ResponsePlan plan;
    std::string head;
    for (auto _ : state) {
        plan_file_response(req, rep, info, plan);
        head.clear();
        render_h1_head(plan, 1, head);
        benchmark::DoNotOptimize(head.data());
    }
}
BENCHMARK(BM_Plan200Prerendered);

void BM_ParseRangeSingle(benchmark::State& state) {
    for (auto _ : state) {
        RangeSet s = parse_range("bytes=1048576-2097151", 10'000'000);
        benchmark::DoNotOptimize(s);
    }
}
BENCHMARK(BM_ParseRangeSingle);

void BM_ParseRangeMulti(benchmark::State& state) {
    for (auto _ : state) {
        RangeSet s = parse_range("bytes=0-99, 200-299, 400-499, 600-699, -100", 10'000'000);
        benchmark::DoNotOptimize(s);
    }
}
BENCHMARK(BM_ParseRangeMulti);

}  // namespace
}  // namespace sluice::http

BENCHMARK_MAIN();
