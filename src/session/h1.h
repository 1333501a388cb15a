// session/h1.h — HTTP/1.1 (and 1.0) over one connection: llhttp through http::RequestParser,
// keep-alive, pipelining (input parked while a response is sent, bounded), responses batched
// into one send, the access-log line of each response once its last byte is on the socket, and
// the close rules: Connection: close, protocol errors (answer, then half-close and drain),
// header and keep-alive timeouts, graceful server stop.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/parser.h"
#include "http/request.h"
#include "session/access.h"
#include "session/session.h"

namespace sluice::files {
struct Resource;
struct Variant;
}

namespace sluice::session {

class H1 final : public Session {
public:
    H1(const Env& env, Owner& owner);
    ~H1() override;
    H1(const H1&) = delete;
    H1& operator=(const H1&) = delete;

    // A new connection (the object is reused by the connection slot). `first_request_pending`:
    // bytes already consumed by a sniffer are handed in with the first feed().
    void reset();

    void feed(std::string_view plaintext) override;
    void on_eof() override;
    void on_sent(bool drained) override;
    void on_closed() override;
    void begin_shutdown() override;
    void tick(uint64_t now_ms) override;

    // After the connection ended: the per-connection buffers go (the slot keeps the object).
    void release();

private:
    enum class Deadline : uint8_t { None, Header, Keepalive };

    void process(std::string_view data);
    void process_pending();
    void after_process();
    void handle_request();
    void queue_response();
    void queue_error(int status);
    void note_log(int status, uint64_t bytes);
    void responses_done();
    void go_idle();
    void update_input();
    void close_graceful();
    void set_deadline(Deadline d, double seconds);
    [[nodiscard]] bool unread_input() const;

    const Env& env_;
    Owner& owner_;
    std::optional<http::RequestParser> parser_;  // fresh per connection (errors are terminal)
    http::Request req_;
    std::string inbuf_;  // bytes received but not yet parsed (pipelined while busy)
    PendingLogs logs_;
    uint64_t req_start_ms_ = 0;
    uint32_t requests_ = 0;  // on this connection: the first is under the header timeout
    Deadline deadline_ = Deadline::None;
    uint64_t deadline_ms_ = 0;
    bool read_eof_ = false;           // FIN or close_notify
    bool close_after_ = false;        // close once output drains
    bool input_after_close_ = false;  // bytes arrived after the final request
    bool linger_on_close_ = false;    // protocol error: drain input before closing
    bool shutdown_requested_ = false;
};

}  // namespace sluice::session
