// session/session.h — a protocol session: plaintext bytes in, responses out as pieces of the
// connection's output queue. HTTP/1 (session/h1.h) today; HTTP/2 next. Sans-I/O: a session never
// touches the socket or the ring; it asks its Owner (server::Conn) to flush, to read more or
// less, and to close.
//
// Dependency rule: session uses output, handler, http, files, obs, base — never transport,
// core, tls, ktls or record.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::output {
class Queue;
}
namespace sluice::obs {
class AccessLog;
struct WorkerCounters;
}
namespace sluice::handler {
class StaticFiles;
struct Response;
}

namespace sluice::session {

// What every session of a worker shares; filled by the worker, outlives its connections.
struct Env {
    handler::StaticFiles* files = nullptr;  // the static-file handler, one per worker
    obs::AccessLog* log = nullptr;
    obs::WorkerCounters* counters = nullptr;
    const uint64_t* now_ms = nullptr;
    // HTTP/1 plans, renders and queues a response within one call, so the worker lends one
    // response and one head buffer to all its connections: warm buffers, none held idle.
    handler::Response* scratch = nullptr;
    std::string* head = nullptr;
    double header_timeout_s = 0;
    double keepalive_timeout_s = 0;
    double send_timeout_s = 0;  // HTTP/2: streams open, nothing sent for this long: close
    bool h2_data_splice = false;  // --h2-data splice: HTTP/2 file payloads as file pieces
};

// How much input the session wants (the transport maps it onto its reads).
enum class Input : uint8_t {
    Stop,  // nothing more: a close is coming, or too much is parked
    Park,  // a response is being sent; more input would only be parked
    Want,  // waiting for input
};

// What a session may ask of its connection.
class Owner {
public:
    virtual output::Queue& queue() = 0;
    virtual void flush() = 0;              // the queue has new bytes
    virtual void set_input(Input in) = 0;
    // Close once the queue drains: TLS close_notify, FIN, and draining input (`linger`: even
    // over TLS) before the socket closes. `unread_input`: the session holds input it never
    // answered, so the close must wait for the peer rather than risk an RST.
    virtual void close(bool linger, bool unread_input) = 0;
    virtual void close_now() = 0;
    // The transport seals records itself (userspace TLS): file bytes are better queued as
    // file pieces, which it seals straight from the mapping, than copied into memory first.
    [[nodiscard]] virtual bool seals_output() const = 0;
    // For the access log.
    [[nodiscard]] virtual std::string_view peer_ip() const = 0;
    [[nodiscard]] virtual std::string_view tls_tag() const = 0;
    [[nodiscard]] virtual uint64_t conn_id() const = 0;

protected:
    ~Owner() = default;
};

class Session {
public:
    virtual ~Session() = default;
    virtual void feed(std::string_view plaintext) = 0;
    virtual void on_eof() = 0;                 // FIN or close_notify
    virtual void on_sent(bool drained) = 0;    // the queue's sent() advanced
    virtual void on_closed() = 0;              // the connection ended: log what was cut short
    virtual void begin_shutdown() = 0;         // graceful stop of the server
    virtual void tick(uint64_t now_ms) = 0;    // the session's own timeouts
};

}  // namespace sluice::session
