#include "session/access.h"

#include <ctime>

#include "obs/access_log.h"

namespace sluice::session {

PendingLogs::Entry& PendingLogs::add(uint64_t end) {
    Entry& e = v_.emplace_back();
    e.end = end;
    return e;
}

void PendingLogs::emit(const Entry& e, uint64_t bytes, const Env& env, const Owner& owner) {
    obs::AccessRecord rec;
    rec.remote_ip = owner.peer_ip();
    rec.time = ::time(nullptr);
    rec.method = e.method;
    rec.target = e.target;
    rec.http_major = e.major;
    rec.http_minor = e.minor;
    rec.status = e.status;
    rec.body_bytes = bytes;
    rec.referer = e.referer;
    rec.user_agent = e.user_agent;
    rec.request_time_s = static_cast<double>(*env.now_ms - e.start_ms) / 1000.0;
    rec.conn_id = owner.conn_id();
    rec.stream_id = e.stream;
    rec.tls = owner.tls_tag();
    env.log->append(rec);
}

void PendingLogs::flush(uint64_t sent, const Env& env, const Owner& owner) {
    while (head_ < v_.size() && v_[head_].end <= sent) {
        emit(v_[head_], v_[head_].bytes, env, owner);
        ++head_;
    }
    if (head_ == v_.size()) {
        v_.clear();
        head_ = 0;
    }
}

void PendingLogs::cut_short(uint64_t sent, const Env& env, const Owner& owner) {
    for (size_t i = head_; i < v_.size(); ++i) {
        const Entry& e = v_[i];
        const uint64_t unsent = e.end > sent ? e.end - sent : 0;
        emit(e, e.bytes > unsent ? e.bytes - unsent : 0, env, owner);
    }
    v_.clear();
    head_ = 0;
}

void PendingLogs::cut_after(uint64_t at, const Env& env, const Owner& owner) {
    // Records are added in queue order: those past `at` are the tail.
    size_t keep = v_.size();
    while (keep > head_ && v_[keep - 1].end > at) --keep;
    for (size_t i = keep; i < v_.size(); ++i) {
        const Entry& e = v_[i];
        const uint64_t dropped = e.end - at;
        emit(e, e.bytes > dropped ? e.bytes - dropped : 0, env, owner);
    }
    v_.resize(keep);
}

void PendingLogs::release() {
    std::vector<Entry>().swap(v_);
    head_ = 0;
}

}  // namespace sluice::session
