// server/conn.h — one client connection slot: a transport (plain Socket or TlsSocket), the
// output queue they share, and the protocol session the handshake (or, plain, the first bytes)
// chooses. Conn only wires them: bytes up from the transport go to the session, the session's
// requests to flush, read and close go down. Owned by its Worker and driven only from that
// worker's thread; the slot is reused once the transport reports no op in flight.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "output/queue.h"
#include "session/h1.h"
#include "session/h2.h"
#include "session/session.h"
#include "transport/socket.h"
#include "transport/tls.h"

namespace sluice::tls {
class Context;
}

namespace sluice::server {

class Conn;

// Told when a slot is free again (the worker).
class SlotOwner {
public:
    virtual void conn_released(Conn* c) = 0;

protected:
    ~SlotOwner() = default;
};

// What the worker hands every connection (it outlives them).
struct ConnEnv {
    transport::Env transport;
    session::Env session;
    output::BufferPool* pool = nullptr;
    SlotOwner* owner = nullptr;
    bool log_peer = false;  // the access log wants the peer's address
    bool h2c = true;        // plain connections may start with the HTTP/2 preface
};

class Conn final : public transport::Sink, public session::Owner {
public:
    explicit Conn(const ConnEnv& env);
    ~Conn();
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    // Takes ownership of an accepted, non-blocking socket and starts reading; with `tls`, a
    // TLS handshake comes first.
    void start(int fd, uint64_t id, tls::Context* tls);
    // Timeouts; called by the worker every tick.
    void tick(uint64_t now_ms);
    // Graceful stop: idle connections close now, busy ones after their current response.
    void begin_shutdown();
    // Immediate close (grace period over).
    void abort();
    [[nodiscard]] bool active() const { return active_; }

private:
    // transport::Sink
    void on_ready(const Ready& r) override;
    void on_data(std::string_view plaintext) override;
    void on_eof() override;
    void on_sent(bool drained) override;
    void on_closed() override;
    void on_released() override;
    // session::Owner
    output::Queue& queue() override { return queue_; }
    void flush() override;
    void set_input(session::Input in) override;
    void close(bool linger, bool unread_input) override;
    void close_now() override;
    [[nodiscard]] bool seals_output() const override;
    [[nodiscard]] std::string_view peer_ip() const override { return peer_ip_; }
    [[nodiscard]] std::string_view tls_tag() const override { return tls_tag_; }
    [[nodiscard]] uint64_t conn_id() const override { return id_; }

    void start_h1();
    void start_h2();
    void sniff(std::string_view plaintext);

    const ConnEnv& env_;
    output::Queue queue_;
    // Made at the slot's first connection of each kind (a TLS slot carries no plain socket).
    std::unique_ptr<transport::Socket> plain_;
    std::unique_ptr<transport::TlsSocket> tls_;
    transport::Socket* transport_ = nullptr;
    session::H1 h1_;
    std::unique_ptr<session::H2> h2_;  // made at the slot's first HTTP/2 connection
    session::Session* session_ = nullptr;
    // Plain connections with --h2c: the first bytes decide (the 24-byte HTTP/2 preface, or
    // HTTP/1 at the first byte that differs), under the header timeout.
    bool sniffing_ = false;
    std::string sniffed_;
    uint64_t sniff_deadline_ms_ = 0;
    std::string peer_ip_;
    std::string tls_tag_;
    uint64_t id_ = 0;
    bool active_ = false;
    bool closed_ = false;
    bool shutdown_requested_ = false;
};

}  // namespace sluice::server
