// session/access.h — access-log records waiting for their response's last byte: a session
// notes each response with the queue position just past it, and the record is written once the
// queue's sent() passes that position (or, cut short, when the connection ends: with the body
// bytes that did go out). Shared by H1 (one response after another) and H2 (streams in any
// order; records are written in the order their responses end in the byte stream).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "session/session.h"

namespace sluice::session {

class PendingLogs {
public:
    struct Entry {
        uint64_t end = 0;       // queue position just past the response
        uint64_t bytes = 0;     // body bytes the response carries (or queued, if reset)
        uint64_t start_ms = 0;
        int status = 0;
        uint32_t stream = 0;    // HTTP/2 stream id, 0 for HTTP/1
        uint8_t major = 1;
        uint8_t minor = 1;
        std::string method, target, referer, user_agent;
    };

    // A new record (only when the log is on: callers check Env::log->enabled()).
    Entry& add(uint64_t end);
    // Writes the records whose response is all on the socket.
    void flush(uint64_t sent, const Env& env, const Owner& owner);
    // The connection ended: every record left, with the body bytes that went out.
    void cut_short(uint64_t sent, const Env& env, const Owner& owner);
    // The queue was cut at `at` (Queue::drop_from): records ending past it are written now,
    // cut short, without the bytes past `at`; the others wait for sent() as before.
    void cut_after(uint64_t at, const Env& env, const Owner& owner);
    void release();

private:
    static void emit(const Entry& e, uint64_t bytes, const Env& env, const Owner& owner);
    std::vector<Entry> v_;
    size_t head_ = 0;
};

}  // namespace sluice::session
