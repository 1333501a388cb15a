// The per-request floor of nghttp2 itself: a bare nghttp2 server session (no sluice, no I/O)
// answering GETs with 1 KiB bodies, fed a client's bytes 32 requests at a time (h2load -m32)
// and draining mem_send after each batch. What this costs per request is what any server built
// on nghttp2 pays before doing anything else (docs/performance.md, the h2-small target).
// nghttp2 is otherwise confined to src/session/h2.cc; this measures the library, not sluice.
// No main(): linked into sluice_bench with the other micro-benchmarks.
#include <benchmark/benchmark.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr int kBatch = 32;
constexpr int kRequests = 32 * 2048;
constexpr size_t kBody = 1024;

nghttp2_nv nv(const char* n, const char* v) {
    return {reinterpret_cast<uint8_t*>(const_cast<char*>(n)),
            reinterpret_cast<uint8_t*>(const_cast<char*>(v)), std::strlen(n), std::strlen(v),
            NGHTTP2_NV_FLAG_NONE};
}

// A client's bytes for kRequests GETs on one connection, and where each batch ends.
struct ClientStream {
    std::string bytes;
    std::vector<size_t> batch_end;
};

const ClientStream& client_stream() {
    static const ClientStream cs = [] {
        ClientStream out;
        nghttp2_session_callbacks* cb = nullptr;
        nghttp2_session_callbacks_new(&cb);
        nghttp2_option* opt = nullptr;
        nghttp2_option_new(&opt);
        nghttp2_option_set_peer_max_concurrent_streams(opt, 1u << 30);
        nghttp2_session* c = nullptr;
        nghttp2_session_client_new2(&c, cb, nullptr, opt);
        nghttp2_option_del(opt);
        nghttp2_session_callbacks_del(cb);
        const nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (1u << 31) - 1},
                                             {NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
        nghttp2_submit_settings(c, NGHTTP2_FLAG_NONE, iv, 2);
        nghttp2_session_set_local_window_size(c, NGHTTP2_FLAG_NONE, 0, (1 << 30));
        const nghttp2_nv req[] = {nv(":method", "GET"), nv(":scheme", "https"),
                                  nv(":authority", "localhost"), nv(":path", "/1k.bin"),
                                  nv("user-agent", "h2load nghttp2/1.52.0")};
        auto drain = [&] {
            const uint8_t* p = nullptr;
            ssize_t n;
            while ((n = nghttp2_session_mem_send(c, &p)) > 0)
                out.bytes.append(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
        };
        for (int i = 0; i < kRequests; ++i) {
            nghttp2_submit_request(c, nullptr, req, 5, nullptr, nullptr);
            if ((i + 1) % kBatch == 0) {
                drain();
                out.batch_end.push_back(out.bytes.size());
            }
        }
        nghttp2_session_del(c);
        return out;
    }();
    return cs;
}

char g_body[kBody];

ssize_t read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags,
                  nghttp2_data_source* src, void*) {
    size_t& off = *static_cast<size_t*>(src->ptr);
    const size_t n = std::min(len, kBody - off);
    std::memcpy(buf, g_body + off, n);
    off += n;
    if (off == kBody) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
}

struct Server {
    nghttp2_session* s = nullptr;
    size_t offs[kRequests / 2 + 1]{};  // per stream slot, reused (ids are odd, 1..)
    uint64_t sink = 0;

    static int on_header(nghttp2_session*, const nghttp2_frame*, const uint8_t* name, size_t,
                         const uint8_t* value, size_t vlen, uint8_t, void* ud) {
        static_cast<Server*>(ud)->sink += name[0] + vlen + value[0];  // "looks at" the field
        return 0;
    }
    static int on_frame(nghttp2_session* s, const nghttp2_frame* f, void* ud) {
        auto* self = static_cast<Server*>(ud);
        if (f->hd.type != NGHTTP2_HEADERS || !(f->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
        const int32_t id = f->hd.stream_id;
        size_t& off = self->offs[(static_cast<size_t>(id) / 2) % (kRequests / 2 + 1)];
        off = 0;
        static const nghttp2_nv res[] = {nv(":status", "200"), nv("content-length", "1024"),
                                         nv("content-type", "application/octet-stream"),
                                         nv("server", "sluice"),
                                         nv("date", "Fri, 04 Dec 2026 13:00:00 GMT")};
        nghttp2_data_provider dp{};
        dp.source.ptr = &off;
        dp.read_callback = read_body;
        nghttp2_submit_response(s, id, res, 5, &dp);
        return 0;
    }

    Server() {
        nghttp2_session_callbacks* cb = nullptr;
        nghttp2_session_callbacks_new(&cb);
        nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
        nghttp2_option* opt = nullptr;
        nghttp2_option_new(&opt);
        nghttp2_option_set_no_auto_window_update(opt, 0);
        nghttp2_session_server_new2(&s, cb, this, opt);
        nghttp2_option_del(opt);
        nghttp2_session_callbacks_del(cb);
        const nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 128},
                                             {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1}};
        nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, iv, 2);
    }
    ~Server() { nghttp2_session_del(s); }
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    size_t drain() {
        const uint8_t* p = nullptr;
        ssize_t n;
        size_t total = 0;
        while ((n = nghttp2_session_mem_send(s, &p)) > 0) {
            benchmark::DoNotOptimize(p);
            total += static_cast<size_t>(n);
        }
        return total;
    }
};

void BM_Nghttp2ServerGet1KiB(benchmark::State& state) {
    const ClientStream& cs = client_stream();
    auto srv = std::make_unique<Server>();
    size_t batch = 0;
    size_t from = 0;
    uint64_t out = 0;
    for (auto _ : state) {
        if (batch == cs.batch_end.size()) {
            state.PauseTiming();
            srv = std::make_unique<Server>();
            batch = 0;
            from = 0;
            state.ResumeTiming();
        }
        const size_t to = cs.batch_end[batch++];
        const ssize_t r = nghttp2_session_mem_recv(
            srv->s, reinterpret_cast<const uint8_t*>(cs.bytes.data() + from), to - from);
        if (r < 0) {
            state.SkipWithError(nghttp2_strerror(static_cast<int>(r)));
            return;
        }
        from = to;
        out += srv->drain();
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBatch);
    state.counters["out_bytes_per_req"] =
        static_cast<double>(out) / static_cast<double>(state.iterations() * kBatch);
}
BENCHMARK(BM_Nghttp2ServerGet1KiB);

}  // namespace
