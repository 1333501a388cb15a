#include "session/h2.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <iterator>
#include <cstring>
#include <ctime>

#include "files/cache.h"
#include "files/mapping.h"
#include "handler/static_file.h"
#include "http/response.h"
#include "obs/access_log.h"
#include "obs/counters.h"
#include "output/queue.h"

namespace sluice::session {

namespace {
// Residency of a file's pages is asked (mincore) once per this many bytes, not per frame.
constexpr uint64_t kResidentWindow = 1024 * 1024;
constexpr size_t kMaxFields = 24;

void append_list(std::string& to, std::string_view v) {
    if (!to.empty()) to.append(", ");
    to.append(v);
}

// Our SETTINGS as the peer reads them: nghttp2 enforces H2::kStreamHardCap, the peer is told
// H2::kMaxConcurrentStreams. `frame` is one whole frame as mem_send returned it (RFC 9113 §6.5.1:
// after the 9-byte header, entries of a 16-bit identifier and a 32-bit value).
void advertise_streams(char* frame, size_t n) {
    auto* f = reinterpret_cast<uint8_t*>(frame);
    if (n < 9 || f[3] != NGHTTP2_SETTINGS || (f[4] & NGHTTP2_FLAG_ACK)) return;
    for (size_t off = 9; off + 6 <= n; off += 6) {
        uint8_t* e = f + off;
        const uint32_t value = (uint32_t{e[2]} << 24) | (uint32_t{e[3]} << 16) |
                               (uint32_t{e[4]} << 8) | e[5];
        if (((e[0] << 8) | e[1]) != NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS ||
            value != H2::kStreamHardCap)
            continue;
        e[2] = e[3] = e[4] = 0;
        e[5] = static_cast<uint8_t>(H2::kMaxConcurrentStreams);
        static_assert(H2::kMaxConcurrentStreams < 256);
    }
}

}  // namespace

struct H2::Stream {
    int32_t id = 0;
    size_t slot = 0;  // index in H2::live_
    http::Request req;
    handler::Response res;
    uint64_t start_ms = 0;
    uint64_t header_bytes = 0;
    uint64_t body_sent = 0;   // DATA payload queued
    size_t part = 0;          // body cursor: res.plan.body[part] at part_off
    uint64_t part_off = 0;
    uint64_t resident_to = 0; // file offset up to which the mapping was found resident
    bool has_priority = false;
    bool too_big = false;     // header list over kMaxHeaderList
    bool body = false;        // the client sent request body bytes
    bool responded = false;
    bool logged = false;
    bool remote_closed = false;
    bool deferred = false;    // its DATA waits for the queue to drain below kHighWater
    void clear() {
        id = 0;
        req.clear();
        res.clear();
        start_ms = header_bytes = body_sent = part_off = resident_to = 0;
        part = 0;
        has_priority = too_big = body = responded = logged = remote_closed = deferred = false;
    }
};

// nghttp2's callbacks, each a static function forwarding to the session.
struct H2::Callbacks {
    static H2& self(void* ud) { return *static_cast<H2*>(ud); }

    static int on_begin_headers(nghttp2_session* ng, const nghttp2_frame* f, void* ud) {
        if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
        H2& h = self(ud);
        if (h.open_streams_ >= kMaxConcurrentStreams) {
            // Over the limit we advertised (RFC 9113 §5.1.2): this stream alone is refused.
            // nghttp2 (told kStreamHardCap) still decodes its header block, so the HPACK state
            // stays in step; without a Stream its fields are ignored and no response, log line
            // or request is counted. The stream closes when the RST_STREAM is sent. A refusal
            // costs what a reset the peer makes us send costs, so refusal loops are bounded.
            nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id,
                                      NGHTTP2_REFUSED_STREAM);
            h.note_junk(kJunkPerRequest + 2);
            return 0;
        }
        Stream* s = h.new_stream(f->hd.stream_id);
        nghttp2_session_set_stream_user_data(ng, f->hd.stream_id, s);
        return 0;
    }

    static int on_header(nghttp2_session* ng, const nghttp2_frame* f, const uint8_t* n,
                         size_t nlen, const uint8_t* v, size_t vlen, uint8_t, void*) {
        if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
        auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(ng, f->hd.stream_id));
        if (s == nullptr) return 0;
        // RFC 9113 §6.5.2: the size of a field is its name and value plus 32. Counted on
        // decode (nghttp2 only advertises SETTINGS_MAX_HEADER_LIST_SIZE).
        s->header_bytes += nlen + vlen + 32;
        if (s->header_bytes > kMaxHeaderList) {
            s->too_big = true;
            return 0;
        }
        const std::string_view name(reinterpret_cast<const char*>(n), nlen);
        const std::string_view value(reinterpret_cast<const char*>(v), vlen);
        http::Request& r = s->req;
        if (name == ":method") {
            r.method_name.assign(value);
            r.method = value == "GET"       ? http::Method::Get
                       : value == "HEAD"    ? http::Method::Head
                       : value == "OPTIONS" ? http::Method::Options
                                            : http::Method::Other;
        } else if (name == ":path") {
            r.target.assign(value);
            if (value == "*") r.form = http::TargetForm::Asterisk;
        } else if (name == ":authority") {
            r.host.assign(value);
            r.has_host = true;
        } else if (name == "host") {
            if (!r.has_host) r.host.assign(value);
            r.has_host = true;
        } else if (name == "range") {
            r.range.assign(value);
        } else if (name == "if-range") {
            r.if_range.assign(value);
        } else if (name == "if-match") {
            append_list(r.if_match, value);
        } else if (name == "if-none-match") {
            append_list(r.if_none_match, value);
        } else if (name == "if-modified-since") {
            r.if_modified_since.assign(value);
        } else if (name == "if-unmodified-since") {
            r.if_unmodified_since.assign(value);
        } else if (name == "accept-encoding") {
            append_list(r.accept_encoding, value);
        } else if (name == "user-agent") {
            r.user_agent.assign(value);
        } else if (name == "referer") {
            r.referer.assign(value);
        } else if (name == "priority") {
            s->has_priority = true;
        }
        return 0;
    }

    static int on_frame_recv(nghttp2_session* ng, const nghttp2_frame* f, void* ud) {
        H2& h = self(ud);
        auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(ng, f->hd.stream_id));
        switch (f->hd.type) {
        case NGHTTP2_HEADERS:
            if (s == nullptr || f->headers.cat != NGHTTP2_HCAT_REQUEST) {
                h.note_junk();  // trailers we ignore
                break;
            }
            if (f->hd.flags & NGHTTP2_FLAG_END_STREAM) {
                s->remote_closed = true;
                h.respond(*s);
            } else if (s->req.method == http::Method::Other || s->too_big) {
                h.respond(*s);  // 405 / 431 now; its body is never read
            }
            break;
        case NGHTTP2_DATA:
            if (f->hd.length == 0 && !(f->hd.flags & NGHTTP2_FLAG_END_STREAM)) h.note_junk();
            if (s != nullptr && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
                s->remote_closed = true;
                if (!s->responded) h.respond(*s);
            }
            break;
        case NGHTTP2_PING:
            if (!(f->hd.flags & NGHTTP2_FLAG_ACK)) h.note_junk();
            break;
        case NGHTTP2_SETTINGS:
            if (f->hd.flags & NGHTTP2_FLAG_ACK) break;
            if (!h.preface_seen_) {
                // Preface and SETTINGS in: the connection is established and may idle like
                // a kept-alive one (browsers open h2 connections ahead of requests).
                h.preface_seen_ = true;
                if (h.open_streams_ == 0) h.set_idle_deadline();
            } else {
                h.note_junk();
            }
            break;
        case NGHTTP2_WINDOW_UPDATE:
            // Legitimate with small windows (one per ~window/2 of DATA): sent DATA earns
            // credit (note_junk), so only updates that open no real window add up.
        case NGHTTP2_RST_STREAM:
            h.note_junk();
            break;
        default:
            break;
        }
        return 0;
    }

    static int on_invalid_frame(nghttp2_session*, const nghttp2_frame*, int, void* ud) {
        // Each one makes us reset a stream or answer: "MadeYouReset" costs the peer more.
        self(ud).note_junk(kJunkPerRequest + 2);
        return 0;
    }

    static int on_data_chunk(nghttp2_session* ng, uint8_t, int32_t id, const uint8_t*, size_t len,
                             void* ud) {
        auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(ng, id));
        if (s == nullptr || len == 0 || s->responded) return 0;
        // A request body: refused with 413 at once, never buffered (its flow-control credit
        // is returned by nghttp2 as it arrives).
        s->body = true;
        self(ud).respond(*s);
        return 0;
    }

    static int on_frame_send(nghttp2_session* ng, const nghttp2_frame* f, void* ud) {
        // A DATA frame is in the queue whole here (send_data): its end is a frame boundary.
        if (f->hd.type == NGHTTP2_DATA) self(ud).note_cut();
        if (f->hd.type == NGHTTP2_GOAWAY && !self(ud).closing_ &&
            (f->goaway.error_code == NGHTTP2_ENHANCE_YOUR_CALM ||
             f->goaway.error_code == NGHTTP2_INTERNAL_ERROR)) {
            // nghttp2's own limiter ended it (Rapid Reset: too many RST_STREAMs per second).
            self(ud).env_.counters->h2_flood_closed.add(1);
            self(ud).closing_ = true;
            return 0;
        }
        if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) return 0;
        if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
        H2& h = self(ud);
        auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(ng, f->hd.stream_id));
        if (s == nullptr || !s->responded || s->logged) return 0;
        s->logged = true;
        // RFC 9113 §8.1: a complete response before the whole request — ask the client to
        // stop sending its body, without error.
        if (!s->remote_closed)
            nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
        h.log_stream(*s);
        return 0;
    }

    static int on_stream_close(nghttp2_session* ng, int32_t id, uint32_t err, void* ud) {
        H2& h = self(ud);
        auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(ng, id));
        // Ended by both sides' END_STREAM, or by a reset (then frames in flight are ignored).
        h.mark_stream(id, s != nullptr && s->remote_closed && err == NGHTTP2_NO_ERROR ? 0 : 2);
        if (s == nullptr) return 0;
        if (s->responded && !s->logged) {
            s->logged = true;
            h.log_stream(*s);  // reset before its end: with the body bytes queued
        }
        nghttp2_session_set_stream_user_data(ng, id, nullptr);
        h.free_stream(s);
        return 0;
    }

    // DATA: we frame the payload ourselves (NO_COPY), up to kDataPayload per frame and never
    // across two body parts.
    static ssize_t read(nghttp2_session*, int32_t, uint8_t*, size_t length, uint32_t* flags,
                        nghttp2_data_source* src, void* ud) {
        auto* s = static_cast<Stream*>(src->ptr);
        H2& h = self(ud);
        // nghttp2 frames every DATA it may (windows allowing) in one mem_send call: the queue's
        // high-water mark stops it here, and on_sent() resumes the deferred streams.
        if (h.owner_.queue().unsent() >= kHighWater) {
            if (!s->deferred) {
                s->deferred = true;
                h.deferred_.push_back(s->id);
            }
            return NGHTTP2_ERR_DEFERRED;
        }
        const auto& body = s->res.plan.body;
        while (s->part < body.size() && s->part_off >= part_len(body[s->part])) {
            ++s->part;
            s->part_off = 0;
        }
        *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
        if (s->part >= body.size()) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
            return 0;
        }
        const uint64_t left = part_len(body[s->part]) - s->part_off;
        const size_t n = static_cast<size_t>(std::min<uint64_t>({left, length, kDataPayload}));
        if (n == left && s->part + 1 == body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
    }

    static int send_data(nghttp2_session*, nghttp2_frame* f, const uint8_t* hd, size_t length,
                         nghttp2_data_source* src, void* ud) {
        H2& h = self(ud);
        auto* s = static_cast<Stream*>(src->ptr);
        output::Queue& q = h.owner_.queue();
        const std::string_view head(reinterpret_cast<const char*>(hd), 9);
        if (length == 0) {  // an empty DATA frame carrying END_STREAM
            q.copy(head);
            return 0;
        }
        (void)f;
        const http::BodyPart& part = s->res.plan.body[s->part];
        const uint64_t off = s->part_off;
        s->part_off += length;
        s->body_sent += length;
        h.data_sent_ += length;
        if (!part.from_file) {
            char* slot = q.append(9 + length);
            std::memcpy(slot, hd, 9);
            std::memcpy(slot + 9, part.literal.data() + off, length);
            return 0;
        }
        const files::Variant* v = s->res.variant;
        const uint64_t foff = part.offset + off;
        if (v->has_bytes) {
            char* slot = q.append(9 + length);
            std::memcpy(slot, hd, 9);
            std::memcpy(slot + 9, v->bytes.data() + foff, length);
            return 0;
        }
        q.copy(head);
        if (h.env_.h2_data_splice || h.owner_.seals_output()) {
            // A file piece: spliced (--h2-data splice), or, under userspace TLS, sealed with
            // its header into one record straight from the mapping.
            q.file(*v, v->fd.get(), foff, length, s->res.hold);
            return 0;
        }
        const files::Mapping* map = v->mapped();
        if (map != nullptr && foff + length > s->resident_to) {
            const uint64_t want = std::max<uint64_t>(
                length, std::min<uint64_t>(kResidentWindow,
                                           static_cast<uint64_t>(v->st.st_size) - foff));
            s->resident_to = map->resident(foff, want) ? foff + want : 0;
        }
        if (map != nullptr && foff + length <= s->resident_to) {
            // Resident: the payload is sent from the mapping (held by the response), so the
            // kernel's copy into the socket (h2c) or into its records (kTLS) is the only one.
            // A file that shrinks under it fails that send (EFAULT) and ends the connection.
            q.ref(map->data() + foff, length, s->res.hold);
            return 0;
        }
        // Cold pages: the transport reads them into the queue through the ring, so the event
        // loop never waits for the disk.
        q.file(*v, v->fd.get(), foff, length, s->res.hold, /*read=*/true);
        return 0;
    }

    static uint64_t part_len(const http::BodyPart& p) {
        return p.from_file ? p.length : p.literal.size();
    }
};

const char* h2_library_version() {
    const nghttp2_info* i = nghttp2_version(0);
    return i != nullptr ? i->version_str : "?";
}

H2::H2(const Env& env, Owner& owner) : env_(env), owner_(owner) {}

H2::~H2() { release(); }

bool H2::reset() {
    release();
    logs_.release();
    deferred_.clear();
    preface_left_ = 24;
    head_.clear();
    payload_left_ = 0;
    dropping_ = false;
    max_client_id_ = 0;
    std::vector<uint8_t>().swap(id_bits_);
    requests_ = junk_ = data_sent_ = 0;
    std::fill(std::begin(cuts_), std::end(cuts_), 0);
    cut_next_ = 0;
    preface_seen_ = false;
    dead_ = flooded_ = false;
    drained_ = true;
    open_streams_ = 0;
    header_deadline_ = true;
    producing_ = closing_ = shutdown_ = read_eof_ = false;
    last_sent_ms_ = *env_.now_ms;
    deadline_ms_ = *env_.now_ms + static_cast<uint64_t>(env_.header_timeout_s * 1000.0);

    nghttp2_session_callbacks* cb = nullptr;
    if (nghttp2_session_callbacks_new(&cb) != 0) return false;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, Callbacks::on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, Callbacks::on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, Callbacks::on_frame_recv);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, Callbacks::on_invalid_frame);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, Callbacks::on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, Callbacks::on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, Callbacks::on_stream_close);
    nghttp2_session_callbacks_set_send_data_callback(cb, Callbacks::send_data);
    nghttp2_option* opt = nullptr;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cb);
        return false;
    }
    // What the peer may make us hold: streams (advertised), header blocks split into at most
    // 8 CONTINUATIONs, SETTINGS entries, queued PING/SETTINGS ACKs, resets per second (Rapid
    // Reset, CVE-2023-44487), closed streams kept for priority (none: RFC 9218 only).
    nghttp2_option_set_max_continuations(opt, 8);
    nghttp2_option_set_max_settings(opt, 32);
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    nghttp2_option_set_stream_reset_rate_limit(opt, 1000, 33);
    nghttp2_option_set_no_closed_streams(opt, 1);
    nghttp2_option_set_max_deflate_dynamic_table_size(opt, kHpackTable);
    nghttp2_mem mem{&mem_, H2Mem::malloc, H2Mem::free, H2Mem::calloc, H2Mem::realloc};
    mem_.creating(true);
    const int rc = nghttp2_session_server_new3(&ng_, cb, this, opt, &mem);
    mem_.creating(false);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (rc != 0) {
        ng_ = nullptr;
        return false;
    }
    const nghttp2_settings_entry iv[] = {
        // kMaxConcurrentStreams on the wire (advertise_streams): see kStreamHardCap.
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kStreamHardCap},
        {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, kHpackTable},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(kMaxHeaderList)},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
    };
    if (nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0)
        return false;
    produce();
    return true;
}

void H2::release() {
    if (ng_ != nullptr) {
        nghttp2_session_del(ng_);
        ng_ = nullptr;
    }
    logs_.release();
    live_.clear();
    spare_.clear();
    open_streams_ = 0;
}

H2::Stream* H2::new_stream(int32_t id) {
    std::unique_ptr<Stream> s;
    if (!spare_.empty()) {
        s = std::move(spare_.back());
        spare_.pop_back();
    } else {
        s = std::make_unique<Stream>();
    }
    s->id = id;
    s->start_ms = *env_.now_ms;
    if (open_streams_ == 0) last_sent_ms_ = *env_.now_ms;  // the stall clock starts now
    s->slot = live_.size();
    live_.push_back(std::move(s));
    ++open_streams_;
    return live_.back().get();
}

void H2::free_stream(Stream* s) {
    const size_t i = s->slot;
    std::unique_ptr<Stream> p = std::move(live_[i]);
    if (i + 1 != live_.size()) {
        live_[i] = std::move(live_.back());
        live_[i]->slot = i;
    }
    live_.pop_back();
    if (open_streams_ > 0) --open_streams_;
    p->clear();
    // Idle, the connection keeps one stream's buffers (RSS per idle connection); busy, a few,
    // so a stream's strings are not allocated again for every request.
    if (spare_.size() < (open_streams_ == 0 ? 1u : 4u)) spare_.push_back(std::move(p));
    if (open_streams_ == 0) {
        if (spare_.size() > 1) spare_.resize(1);
        set_idle_deadline();
    }
}

void H2::set_idle_deadline() {
    header_deadline_ = !preface_seen_;
    const double s = header_deadline_ ? env_.header_timeout_s : env_.keepalive_timeout_s;
    deadline_ms_ = *env_.now_ms + static_cast<uint64_t>(s * 1000.0);
}

void H2::note_junk(uint32_t n) {
    junk_ += n;
    // Credit: per request served, and one frame per 8 KiB of DATA sent (a client with 64 KiB
    // windows sends a WINDOW_UPDATE per ~32 KiB; a +1-byte WINDOW_UPDATE flood earns nothing).
    if (closing_ || junk_ <= kJunkBudget + kJunkPerRequest * requests_ + data_sent_ / 8192) return;
    // A flood of frames that do no work: RFC 9113 §10.5.
    env_.counters->h2_flood_closed.add(1);
    nghttp2_session_terminate_session(ng_, NGHTTP2_ENHANCE_YOUR_CALM);
    closing_ = true;
    flooded_ = true;  // feed() drops what waits unsent and sends the GOAWAY
}

void H2::note_cut() {
    const uint64_t end = owner_.queue().end();
    if (end < cuts_[(cut_next_ + kCuts - 1) % kCuts] + kCutSpacing) return;
    cuts_[cut_next_] = end;
    cut_next_ = (cut_next_ + 1) % kCuts;
}

// After a flood the peer gets no more of its responses than is already on its way: output no
// transport operation holds yet (Queue::unexposed) is dropped from the first frame boundary
// on. Bytes in the kernel's socket buffers, in an io_uring send in flight or in sealed TLS
// records cannot be recalled; those go out, then the GOAWAY.
void H2::drop_unsent() {
    output::Queue& q = owner_.queue();
    const uint64_t from = q.unexposed();
    uint64_t at = q.end();
    for (const uint64_t c : cuts_)
        if (c > 0 && c >= from && c < at) at = c;  // 0: none (and the SETTINGS come first)
    if (at == q.end()) return;
    if (env_.log->enabled()) logs_.cut_after(at, env_, owner_);
    q.drop_from(at);
}

void H2::respond(Stream& s) {
    if (s.responded || closing_) return;
    s.responded = true;
    ++requests_;
    env_.counters->requests.add(1);
    env_.counters->h2_requests.add(1);
    s.req.version_major = 2;
    s.req.version_minor = 0;
    if (s.too_big)
        env_.files->error(431, s.res);
    else if (s.body)
        env_.files->error(413, s.res);
    else
        env_.files->handle(s.req, s.res);
    const http::ResponsePlan& plan = s.res.plan;
    env_.counters->count_status(plan.status);

    char status[4] = {static_cast<char>('0' + plan.status / 100 % 10),
                      static_cast<char>('0' + plan.status / 10 % 10),
                      static_cast<char>('0' + plan.status % 10), 0};
    nghttp2_nv nv[kMaxFields];
    size_t n = 0;
    auto add = [&nv, &n](std::string_view name, std::string_view value) {
        if (n == kMaxFields) return;
        nv[n++] = {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                   reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                   value.size(), NGHTTP2_NV_FLAG_NO_COPY_NAME};
    };
    add(":status", std::string_view(status, 3));
    plan.for_each_field([&add](const http::Field& f) { add(f.h2(), f.value); });
    const bool has_body = s.req.method != http::Method::Head && plan.body_length > 0 &&
                          !plan.body.empty();
    nghttp2_data_provider prd{};
    prd.source.ptr = &s;
    prd.read_callback = Callbacks::read;
    if (nghttp2_submit_response(ng_, s.id, nv, n, has_body ? &prd : nullptr) != 0) {
        nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    if (!s.has_priority) {
        // RFC 9218 default urgency, but incremental: streams of equal urgency interleave, so a
        // big download never starves a small file asked for after it on the same connection.
        nghttp2_extpri pri{3, 1};
        (void)nghttp2_session_change_extpri_stream_priority(ng_, s.id, &pri, 0);
    }
}

void H2::produce() {
    if (producing_ || ng_ == nullptr || dead_) return;
    producing_ = true;
    output::Queue& q = owner_.queue();
    bool failed = false;
    while (q.unsent() < kHighWater) {
        const uint8_t* data = nullptr;
        mem_.used();
        drained_ = false;
        const ssize_t n = nghttp2_session_mem_send(ng_, &data);
        if (n < 0) {
            failed = true;
            break;
        }
        if (n == 0) {
            drained_ = true;
            break;
        }
        char* out = q.append(static_cast<size_t>(n));
        std::memcpy(out, data, static_cast<size_t>(n));
        advertise_streams(out, static_cast<size_t>(n));
    }
    producing_ = false;
    if (failed) {
        owner_.close_now();
        return;
    }
    if (!q.idle()) owner_.flush();
    maybe_finish();
}

// The connection ends once nghttp2 has nothing to read or write (after a GOAWAY, or the
// peer's EOF with no stream left) and everything queued is out.
void H2::maybe_finish() {
    const bool done = (!nghttp2_session_want_read(ng_) && !nghttp2_session_want_write(ng_)) ||
                      ((read_eof_ || shutdown_) && open_streams_ == 0 &&
                       !nghttp2_session_want_write(ng_));
    if (!done) return;
    owner_.set_input(Input::Stop);
    owner_.close(false, false);
}

// ---- Frames nghttp2 1.52 gets wrong -------------------------------------------------------
// A scan of the frame headers in front of nghttp2 answers what it does not (found by
// test_h2_frames.py): HEADERS opening a stream id lower than one already used is ignored
// (RFC 9113 §5.1.1: PROTOCOL_ERROR); DATA or HEADERS on a stream both sides ended is ignored
// once closed streams are not kept (§5.1 "closed": STREAM_CLOSED); WINDOW_UPDATE 0 on a
// stream becomes a connection error (§6.9: a stream error). Frames on streams that were
// reset are still passed (and ignored, §5.1: frames in flight after a RST_STREAM).
namespace {
constexpr uint8_t kOpened = 1;  // the client opened it
constexpr uint8_t kReset = 2;   // it ended with a RST_STREAM (either side)
}  // namespace

void H2::mark_stream(int32_t id, uint8_t bits) {
    if (id <= 0 || (id & 1) == 0) return;
    if (id_bits_.empty()) id_bits_.assign(kIdWindow, 0);
    uint8_t& b = id_bits_[static_cast<size_t>((id / 2) % kIdWindow)];
    b = bits == kOpened ? kOpened : static_cast<uint8_t>(b | bits);
}

uint8_t H2::stream_bits(int32_t id) const {
    if (id_bits_.empty() || id > max_client_id_) return 0;
    // Older than the window: treated as opened and reset (ignored frames, no error).
    if (max_client_id_ - id >= 2 * kIdWindow) return kOpened | kReset;
    return id_bits_[static_cast<size_t>((id / 2) % kIdWindow)];
}

void H2::connection_error(uint32_t code) {
    closing_ = true;
    nghttp2_session_terminate_session(ng_, code);
}

// A complete frame header `h` (and for a WINDOW_UPDATE on a stream its 4-byte payload):
// false drops the frame.
bool H2::frame_head(const uint8_t* h, const uint8_t* payload) {
    const uint32_t len = (uint32_t{h[0]} << 16) | (uint32_t{h[1]} << 8) | h[2];
    const uint8_t type = h[3];
    const auto id = static_cast<int32_t>(((uint32_t{h[5]} & 0x7f) << 24) | (uint32_t{h[6]} << 16) |
                                         (uint32_t{h[7]} << 8) | h[8]);
    (void)len;
    // Frames nghttp2 1.52 drops without a callback still cost the budget: PRIORITY (with
    // NO_RFC7540_PRIORITIES), unsolicited PING ACKs (we send no PING), WINDOW_UPDATE and DATA
    // on streams that are gone.
    if (type == NGHTTP2_PRIORITY || (type == NGHTTP2_PING && (h[4] & NGHTTP2_FLAG_ACK)) ||
        ((type == NGHTTP2_WINDOW_UPDATE || type == NGHTTP2_DATA) && id != 0 &&
         nghttp2_session_find_stream(ng_, id) == nullptr)) {
        note_junk();
        if (closing_) return false;
    }
    if (type == NGHTTP2_HEADERS && (id & 1) == 1) {
        if (id > max_client_id_) {
            for (int32_t skipped = max_client_id_ + 2; skipped < id && id - skipped < 2 * kIdWindow;
                 skipped += 2)
                mark_stream(skipped, kOpened | kReset);  // never opened: idle, now closed
            max_client_id_ = id;
            mark_stream(id, kOpened);
            return true;
        }
        if (nghttp2_session_find_stream(ng_, id) != nullptr) return true;  // trailers
        const uint8_t b = stream_bits(id);
        connection_error((b & kOpened) && !(b & kReset) ? NGHTTP2_STREAM_CLOSED
                                                        : NGHTTP2_PROTOCOL_ERROR);
        return false;
    }
    if (type == NGHTTP2_DATA && id > 0 && id <= max_client_id_ &&
        nghttp2_session_find_stream(ng_, id) == nullptr) {
        const uint8_t b = stream_bits(id);
        if ((b & kOpened) && !(b & kReset)) {
            connection_error(NGHTTP2_STREAM_CLOSED);
            return false;
        }
        return true;
    }
    if (type == NGHTTP2_WINDOW_UPDATE && id != 0 && payload != nullptr) {
        const uint32_t inc = ((uint32_t{payload[0]} & 0x7f) << 24) | (uint32_t{payload[1]} << 16) |
                             (uint32_t{payload[2]} << 8) | payload[3];
        if (inc == 0 && nghttp2_session_find_stream(ng_, id) != nullptr) {
            nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, id, NGHTTP2_PROTOCOL_ERROR);
            note_junk(kJunkPerRequest + 2);  // "MadeYouReset": a reset we were made to send
            return false;
        }
    }
    return true;
}

// Cuts `data` at the next point where nghttp2 must see something else: `pass` is what to
// hand it now (possibly empty). False once nothing more may be passed.
bool H2::scan(std::string_view& data, std::string_view& pass) {
    pass = {};
    if (closing_) return false;
    if (preface_left_ > 0) {
        const size_t n = std::min(preface_left_, data.size());
        preface_left_ -= n;
        pass = data.substr(0, n);
        data.remove_prefix(n);
        return true;
    }
    if (payload_left_ > 0) {
        const size_t n = std::min<size_t>(payload_left_, data.size());
        payload_left_ -= static_cast<uint32_t>(n);
        if (!dropping_) pass = data.substr(0, n);
        data.remove_prefix(n);
        return true;
    }
    // A frame header, collected whole (with a stream WINDOW_UPDATE's payload) before it
    // is judged.
    size_t want = 9;
    if (head_.size() >= 9 && static_cast<uint8_t>(head_[3]) == NGHTTP2_WINDOW_UPDATE &&
        (static_cast<uint8_t>(head_[5]) | head_[6] | head_[7] | head_[8]) != 0 &&
        head_[0] == 0 && head_[1] == 0 && head_[2] == 4)
        want = 13;
    const size_t n = std::min(want - head_.size(), data.size());
    head_.append(data.substr(0, n));
    data.remove_prefix(n);
    if (head_.size() < want) return true;
    if (want == 9 && static_cast<uint8_t>(head_[3]) == NGHTTP2_WINDOW_UPDATE &&
        (static_cast<uint8_t>(head_[5]) | head_[6] | head_[7] | head_[8]) != 0 &&
        head_[0] == 0 && head_[1] == 0 && head_[2] == 4)
        return true;  // its payload next, then judged
    const auto* h = reinterpret_cast<const uint8_t*>(head_.data());
    const uint32_t len = (uint32_t{h[0]} << 16) | (uint32_t{h[1]} << 8) | h[2];
    const bool keep = frame_head(h, want == 13 ? h + 9 : nullptr);
    dropping_ = !keep;
    payload_left_ = len - static_cast<uint32_t>(want - 9);
    scan_frame_ = head_;
    head_.clear();
    if (keep) pass = scan_frame_;
    return !closing_;
}

void H2::feed(std::string_view data) {
    if (ng_ == nullptr) return;
    ssize_t rv = 0;
    std::string_view pass;
    while (!data.empty() && rv >= 0) {
        if (!scan(data, pass)) break;
        if (pass.empty()) continue;
        rv = nghttp2_session_mem_recv(ng_, reinterpret_cast<const uint8_t*>(pass.data()),
                                      pass.size());
    }
    if (rv < 0 || flooded_) {
        // Fatal for the session (a bad preface, a flood nghttp2 detected, the junk budget
        // spent): whatever GOAWAY it queued goes out, then the connection closes.
        closing_ = true;
        const bool nghttp2_flood =
            rv == NGHTTP2_ERR_FLOODED || rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS;
        if (nghttp2_flood) env_.counters->h2_flood_closed.add(1);  // note_junk counted its own
        const bool flood = flooded_ || nghttp2_flood;
        if (flood) drop_unsent();
        // GOAWAY (RFC 9113 §5.4.1), and no more DATA: only what the termination queues (none
        // after the budget's own termination; nghttp2 frames no DATA once terminating).
        (void)nghttp2_session_terminate_session(
            ng_, flood ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR);
        dead_ = true;
        producing_ = false;
        output::Queue& q = owner_.queue();
        for (;;) {
            const uint8_t* out = nullptr;
            const ssize_t n = nghttp2_session_mem_send(ng_, &out);
            if (n <= 0) break;
            q.copy(std::string_view(reinterpret_cast<const char*>(out), static_cast<size_t>(n)));
        }
        owner_.set_input(Input::Stop);
        // Lingering even over TLS: the rest of a flood may still wait unread in the socket,
        // and a close() over it would be an RST that destroys the GOAWAY (and whatever of
        // the response the client has not read yet) before the client sees it.
        owner_.close(true, true);
        return;
    }
    produce();
}

void H2::on_eof() {
    read_eof_ = true;
    if (ng_ == nullptr) return;
    // Streams still waiting for their request can never finish now: if no response is on
    // its way, nothing is left to do.
    bool answering = false;
    for (const auto& s : live_) answering |= s->responded;
    if (!answering) {
        owner_.set_input(Input::Stop);
        owner_.close(false, false);
        return;
    }
    maybe_finish();
}

void H2::on_sent(bool) {
    last_sent_ms_ = *env_.now_ms;
    logs_.flush(owner_.queue().sent(), env_, owner_);
    resume_deferred();
    produce();
}

void H2::resume_deferred() {
    if (deferred_.empty() || owner_.queue().unsent() >= kHighWater || ng_ == nullptr || dead_)
        return;
    for (const int32_t id : deferred_) {
        auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(ng_, id));
        if (s == nullptr || !s->deferred) continue;  // closed (reset) meanwhile
        s->deferred = false;
        (void)nghttp2_session_resume_data(ng_, id);
    }
    deferred_.clear();
}

// The record of a stream whose last frame was just queued (or that was reset).
void H2::log_stream(const Stream& s) {
    if (!env_.log->enabled()) return;
    PendingLogs::Entry& l = logs_.add(owner_.queue().end());
    l.status = s.res.plan.status;
    l.bytes = s.body_sent;
    l.start_ms = s.start_ms;
    l.stream = static_cast<uint32_t>(s.id);
    l.major = 2;
    l.minor = 0;
    l.method = s.req.method_name;
    l.target = s.req.target;
    l.referer = s.req.referer;
    l.user_agent = s.req.user_agent;
}

void H2::on_closed() {
    if (env_.log->enabled()) logs_.cut_short(owner_.queue().sent(), env_, owner_);
    closing_ = true;
}

void H2::begin_shutdown() {
    if (ng_ == nullptr || shutdown_) return;
    shutdown_ = true;
    // GOAWAY with the last stream we took: those finish, nothing newer is started.
    nghttp2_submit_goaway(ng_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(ng_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
    produce();
}

void H2::tick(uint64_t now_ms) {
    if (ng_ == nullptr || closing_) return;
    if (open_streams_ == 0) {
        // Idle: the frame buffer holds nothing (at most once per tick while busy-idle-busy).
        if (drained_) env_.counters->h2_idle_released.add(mem_.release_idle());
        if (now_ms < deadline_ms_) return;
        (header_deadline_ ? env_.counters->timeouts_header : env_.counters->timeouts_keepalive)
            .add(1);
        closing_ = true;
        nghttp2_session_terminate_session(ng_, NGHTTP2_NO_ERROR);
        produce();
        owner_.close(false, false);
        return;
    }
    // A request whose header block (or body) has not come whole within --header-timeout:
    // slowloris over HTTP/2 (a HEADERS without END_HEADERS and CONTINUATIONs trickling in, or
    // END_STREAM never sent). Like HTTP/1, the connection ends.
    for (const auto& s : live_) {
        if (!s->responded &&
            now_ms >= s->start_ms + static_cast<uint64_t>(env_.header_timeout_s * 1000.0)) {
            env_.counters->timeouts_header.add(1);
            closing_ = true;
            nghttp2_session_terminate_session(ng_, NGHTTP2_NO_ERROR);
            produce();
            owner_.close(false, true);
            return;
        }
    }
    // Streams open but nothing sent for a send timeout: their windows stay shut. Every stream
    // is stalled, so the connection ends.
    if (owner_.queue().idle() && now_ms >= last_sent_ms_ + static_cast<uint64_t>(
                                                 env_.send_timeout_s * 1000.0)) {
        env_.counters->timeouts_send.add(1);
        closing_ = true;
        owner_.close_now();
    }
}

}  // namespace sluice::session
