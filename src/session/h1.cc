#include "session/h1.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "files/cache.h"
#include "handler/static_file.h"
#include "http/response.h"
#include "obs/access_log.h"
#include "obs/counters.h"
#include "output/queue.h"

namespace sluice::session {

namespace {

// Input received while a response is being sent is parked; beyond this the (multishot) recv
// is stopped until the backlog is answered, so a client cannot make us buffer unboundedly.
constexpr size_t kMaxPendingInput = 64 * 1024;
// Responses produced from one read are batched into one send up to this many bytes.
constexpr uint64_t kMaxBatchBytes = 256 * 1024;
// Cached bodies up to this size are copied next to their head (cheaper than an iovec).
constexpr uint64_t kCopyBodyMax = 4096;

}  // namespace

H1::H1(const Env& env, Owner& owner) : env_(env), owner_(owner) {}
H1::~H1() = default;

void H1::reset() {
    parser_.emplace();
    req_.clear();
    inbuf_.clear();
    logs_.release();
    req_start_ms_ = 0;
    requests_ = 0;
    read_eof_ = close_after_ = input_after_close_ = linger_on_close_ = false;
    shutdown_requested_ = false;
    set_deadline(Deadline::Header, env_.header_timeout_s);
}

void H1::release() {
    logs_.release();
    std::string().swap(inbuf_);
    deadline_ = Deadline::None;
}

void H1::set_deadline(Deadline d, double seconds) {
    deadline_ = d;
    deadline_ms_ = *env_.now_ms + static_cast<uint64_t>(seconds * 1000.0);
}

bool H1::unread_input() const {
    return !inbuf_.empty() || input_after_close_ || (parser_ && parser_->in_progress());
}

void H1::update_input() {
    if (close_after_ || inbuf_.size() >= kMaxPendingInput) {
        owner_.set_input(Input::Stop);
    } else if (!owner_.queue().idle() || !inbuf_.empty()) {
        owner_.set_input(Input::Park);
    } else {
        owner_.set_input(Input::Want);
    }
}

// ---- input ---------------------------------------------------------------------------------

void H1::feed(std::string_view data) {
    if (close_after_) {
        input_after_close_ = true;  // dropped, but the close must linger for it
        return;
    }
    if (!owner_.queue().idle() || !inbuf_.empty()) {
        inbuf_.append(data);
        update_input();
        return;
    }
    process(data);
}

void H1::process_pending() {
    std::string pending;
    pending.swap(inbuf_);
    process(pending);
    // Keep the allocation if nothing new was parked, so pipelining does not churn the heap.
    if (inbuf_.empty() && pending.capacity() <= kMaxPendingInput) {
        pending.clear();
        inbuf_.swap(pending);
    }
}

void H1::process(std::string_view data) {
    output::Queue& q = owner_.queue();
    const uint64_t batch_start = q.end();
    while (!data.empty() && !close_after_) {
        if (!parser_->in_progress()) {
            req_start_ms_ = *env_.now_ms;
            if (deadline_ != Deadline::Header) set_deadline(Deadline::Header, env_.header_timeout_s);
        }
        http::ParseOutcome out = parser_->feed(data, req_);
        data.remove_prefix(std::min(out.consumed, data.size()));
        if (out.status == http::ParseStatus::NeedMore) break;
        if (out.status == http::ParseStatus::Error) {
            queue_error(out.error_status);
            break;
        }
        handle_request();
        // Stop batching at a spliced body or a big batch; the rest waits in inbuf_.
        if (!data.empty() && (q.has_file() || q.end() - batch_start > kMaxBatchBytes)) {
            inbuf_.append(data);
            break;
        }
    }
    if (!data.empty() && close_after_) input_after_close_ = true;  // dropped: linger for it
    after_process();
}

void H1::after_process() {
    output::Queue& q = owner_.queue();
    if (close_after_) {
        deadline_ = Deadline::None;
        owner_.close(linger_on_close_, unread_input());
        return;
    }
    if (!q.idle()) {
        deadline_ = Deadline::None;  // the transport's send timeout runs now
        update_input();
        owner_.flush();
        return;
    }
    go_idle();
}

// ---- requests ------------------------------------------------------------------------------

void H1::handle_request() {
    if (shutdown_requested_) req_.keep_alive = false;
    env_.counters->requests.add(1);
    ++requests_;
    handler::Response& r = *env_.scratch;
    env_.files->handle(req_, r);
    if (r.bad_request) linger_on_close_ = true;  // a malformed target: like a protocol error
    queue_response();
}

void H1::queue_error(int status) {
    // Protocol errors: answer, then half-close and drain (the request framing is lost).
    env_.files->error(status, *env_.scratch);
    linger_on_close_ = true;
    queue_response();
    close_after_ = true;
}

// The response in the scratch slot, rendered as HTTP/1.1 into the queue; the slot is cleared
// (the queued pieces hold the resource now).
void H1::queue_response() {
    handler::Response& r = *env_.scratch;
    const http::ResponsePlan& plan = r.plan;
    const files::Variant* v = r.variant;
    output::Queue& q = owner_.queue();
    std::string& head = *env_.head;
    head.clear();
    // A parse error has no request version, but keep_alive is false then and Connection:
    // close does not depend on it.
    http::render_h1_head(plan, req_.version_minor, head);
    q.copy(head);
    for (const http::BodyPart& part : plan.body) {
        if (part.length == 0 && part.literal.empty()) continue;
        if (!part.from_file) {
            q.copy(part.literal);
        } else if (v && v->has_bytes && part.length <= kCopyBodyMax) {
            // Small bodies are copied next to their head: one contiguous buffer goes out
            // with a plain send instead of a sendmsg with an iovec per piece.
            q.copy(std::string_view(v->bytes).substr(part.offset, part.length));
        } else if (v && v->has_bytes) {
            q.ref(v->bytes.data() + part.offset, part.length, r.hold);
        } else if (v) {
            q.file(*v, v->fd.get(), part.offset, part.length, r.hold);
        }
    }
    if (!plan.keep_alive) close_after_ = true;
    note_log(plan.status, plan.body_length);
    r.clear();
}

// ---- access log ----------------------------------------------------------------------------

void H1::note_log(int status, uint64_t bytes) {
    env_.counters->count_status(status);
    if (!env_.log->enabled()) return;
    PendingLogs::Entry& l = logs_.add(owner_.queue().end());
    l.status = status;
    l.bytes = bytes;
    l.start_ms = req_start_ms_ ? req_start_ms_ : *env_.now_ms;
    l.major = req_.version_major;
    l.minor = req_.version_minor;
    l.method = req_.method_name;
    l.target = req_.target;
    l.referer = req_.referer;
    l.user_agent = req_.user_agent;
}

// Log what was cut short with the body bytes that did go out.
void H1::on_closed() {
    deadline_ = Deadline::None;
    if (env_.log->enabled()) logs_.cut_short(owner_.queue().sent(), env_, owner_);
}

// ---- output done ---------------------------------------------------------------------------

void H1::on_sent(bool drained) {
    logs_.flush(owner_.queue().sent(), env_, owner_);
    if (drained) responses_done();
}

void H1::responses_done() {
    if (close_after_) return;  // the transport closes once drained
    if (!inbuf_.empty()) {
        process_pending();
        return;
    }
    if (read_eof_) {
        close_graceful();  // after the peer's FIN or close_notify: ours (TLS), then close
        return;
    }
    go_idle();
}

void H1::go_idle() {
    if (shutdown_requested_ && !parser_->in_progress()) {
        owner_.close_now();
        return;
    }
    if (!parser_->in_progress()) {
        // Until a first request came, the connection is not "kept alive", it is awaited
        // (after a TLS handshake too): the header timeout applies.
        if (requests_ == 0) {
            if (deadline_ != Deadline::Header) set_deadline(Deadline::Header, env_.header_timeout_s);
        } else {
            set_deadline(Deadline::Keepalive, env_.keepalive_timeout_s);
        }
    } else if (deadline_ != Deadline::Header) {
        set_deadline(Deadline::Header, env_.header_timeout_s);
    }
    update_input();
}

void H1::close_graceful() {
    close_after_ = true;
    deadline_ = Deadline::None;
    owner_.close(linger_on_close_, unread_input());
}

void H1::on_eof() {
    read_eof_ = true;
    if (close_after_) return;
    if (owner_.queue().idle() && inbuf_.empty()) close_graceful();
}

void H1::begin_shutdown() {
    shutdown_requested_ = true;
    if (owner_.queue().idle() && inbuf_.empty() && !parser_->in_progress()) owner_.close_now();
}

void H1::tick(uint64_t now_ms) {
    if (deadline_ == Deadline::None || now_ms < deadline_ms_) return;
    const Deadline d = deadline_;
    deadline_ = Deadline::None;
    if (d == Deadline::Header) {
        env_.counters->timeouts_header.add(1);
        owner_.close_now();
    } else {
        env_.counters->timeouts_keepalive.add(1);
        close_graceful();
    }
}

}  // namespace sluice::session
