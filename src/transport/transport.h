// transport/transport.h — how bytes reach the peer: plain TCP (Socket), or TLS (TlsSocket:
// handshake on the ring, then per direction the kernel's records or our own). One interface for
// the connection above; the transport owns the ring operations, their buffers and the socket.
//
// Dependency rule: transport uses output, core, tls, ktls, record, obs, base — never session,
// handler or http. It knows nothing of requests: it moves the output queue's bytes out and hands
// the peer's bytes (plaintext) up through Sink.
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice::core {
class Ring;
class BufferRing;
}
namespace sluice::obs {
struct WorkerCounters;
}
namespace sluice::tls {
class Context;
}

namespace sluice::transport {

class PipePool;

// kTLS policy and the NIC question, answered by the worker.
class KtlsHost {
public:
    struct Hw {
        bool tx = false;
        bool rx = false;
    };
    // Whether the NIC (TLS_HW) does each kernel direction's records, per sock_diag; counted.
    virtual Hw where(int fd, bool tx_kernel, bool rx_kernel) = 0;
    // A setsockopt the kernel refused, by errno (counted per errno).
    virtual void failure(int err) = 0;

protected:
    ~KtlsHost() = default;
};

// What every transport of a worker shares; filled by the worker, outlives its connections.
struct Env {
    core::Ring* ring = nullptr;
    core::BufferRing* bufs = nullptr;   // null without provided-buffer rings (old kernels)
    bool* multishot_recv = nullptr;     // worker-wide; cleared when the kernel refuses it
    PipePool* pipes = nullptr;
    obs::WorkerCounters* counters = nullptr;
    const uint64_t* now_ms = nullptr;
    double send_timeout_s = 0;
    double handshake_timeout_s = 0;
    // TLS
    enum class Ktls : uint8_t { Off, Auto, Require };
    Ktls ktls = Ktls::Auto;
    bool ktls_available = false;   // the tls ULP attached on a probe socket at startup
    bool ktls_rekey = false;       // the kernel takes TLS 1.3 KeyUpdates (6.14+)
    bool tx_zerocopy_ro = false;   // --tls-tx-zerocopy-ro
    KtlsHost* ktls_host = nullptr;
};

// How much input the protocol above wants. Park: it would only buffer what arrives (a
// response is being sent) — worth it with a multishot recv already delivering, not worth
// arming a single-shot one for.
enum class Input : uint8_t { Stop, Park, Want };

// What the connection is told (transport → server::Conn).
class Sink {
public:
    struct Ready {
        std::string_view alpn;     // "h2", "http/1.1" or "" (plain, or no ALPN)
        std::string_view log_tag;  // "TLSv1.3 AES128-GCM kernel-sw", "" for plain
    };
    // Bytes may flow (plain: at once; TLS: after the handoff). Plaintext that came with the
    // handshake follows through on_data.
    virtual void on_ready(const Ready& r) = 0;
    virtual void on_data(std::string_view plaintext) = 0;
    virtual void on_eof() = 0;            // FIN or close_notify: no more input
    // Queued bytes reached the socket; `drained`: all of them, and nothing is in flight.
    virtual void on_sent(bool drained) = 0;
    // The connection is over (closed, reset, fatal alert, timeout): nothing more is read or
    // written. Queued bytes stay valid until on_released().
    virtual void on_closed() = 0;
    // No op is in flight any more and the socket is closed: the slot may be reused.
    virtual void on_released() = 0;

protected:
    ~Sink() = default;
};

struct CloseOpts {
    // Half-close and drain input before closing even over TLS (a protocol error: the client
    // may still be sending the request we refused).
    bool linger = false;
    // The protocol above holds input it did not answer (parked, partly parsed, dropped).
    bool unread_input = false;
};

class Transport {
public:
    virtual void start() = 0;
    virtual void set_input(Input in) = 0;
    // The queue has new bytes.
    virtual void flush() = 0;
    // Close once everything queued is sent: TLS sends close_notify; then FIN, and unless the
    // peer already closed, input is drained (RFC 9112 §9.6) before the socket is closed.
    virtual void close(CloseOpts opts) = 0;
    // Now: queued output is dropped, in-flight ops are cancelled.
    virtual void abort() = 0;
    // At the end of each entry point from outside (a completion, a tick, a start): once closing
    // and no op is in flight, release() — never deeper, so no caller up the stack finds its
    // state freed under it.
    virtual void settle() = 0;
    virtual void tick(uint64_t now_ms) = 0;
    [[nodiscard]] virtual bool ops_in_flight() const = 0;
    [[nodiscard]] virtual bool closing() const = 0;
    // Frees everything, closes the fd and tells Sink::on_released (from settle()).
    virtual void release() = 0;

protected:
    ~Transport() = default;
};

}  // namespace sluice::transport
