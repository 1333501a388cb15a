// transport/tls.h — the TLS transport: the handshake on the ring (wolfSSL via tls::Session,
// sans-I/O), the handoff of the keys to the kernel (kTLS) or to the userspace record layer, and
// record I/O after it: kernel RX reads with recvmsg + record-type cmsg, user RX opens records in
// memory, user TX seals the queue's bytes (file extents from a mapping when resident, else read
// through the ring first), kernel TX is the plain writer (send/splice) plus control records.
// docs/ktls-facts.md §2 gives the handoff order followed here; §3.4 the TLS 1.3 KeyUpdate on
// kernels that can rekey (6.14+). What a peer may send and the alert each violation gets:
// docs/hostile-peers.md.
#pragma once

#include <memory>
#include <string_view>

#include "transport/socket.h"

namespace sluice::tls {
class Context;
struct RecordAction;
enum class Violation : uint8_t;
}

namespace sluice::transport {

class TlsSocket final : public Socket {
public:
    TlsSocket(const Env& env, output::Queue& q, Sink& sink);
    ~TlsSocket() override;

    // Before start(): the context whose certificate and settings this handshake uses.
    void use(tls::Context& ctx);
    void start() override;
    // After the handoff: our records are sealed here (userspace TX), not by the kernel.
    [[nodiscard]] bool seals() const { return user_tx(); }

private:
    struct State;
    enum class MapSeal { Sealed, Cold, Failed };

    void arm_input() override;
    void on_bytes(std::string_view data) override;
    void on_peer_fin() override;
    void pump() override;
    bool divert_output() override;
    bool before_drained() override;
    [[nodiscard]] uint64_t send_limit() const override;
    bool close_notify() override;
    [[nodiscard]] bool fin_after_last_send() const override { return false; }
    [[nodiscard]] bool linger_by_default() const override { return false; }
    void on_finish() override;
    void on_deadline(Deadline d) override;
    void on_recvmsg(int res, uint32_t flags) override;
    void on_ctl_sent(int res) override;
    void on_file_read(int res) override;
    void on_send(int res) override;
    void reset_tls() override;

    void handshake_failed();
    void drive_handshake();
    void after_flight();
    void handoff();
    void send_wire();
    void on_wire_sent(int res);
    void fatal(tls::Violation v);
    void fatal_progress();
    void send_warning(uint8_t description);
    void ctl_alert(uint8_t level, uint8_t description);
    bool send_owed_warning();
    bool apply(const tls::RecordAction& a, std::string_view data);
    void on_ciphertext(std::string_view data);
    bool on_record(uint8_t type, std::string_view data);
    bool on_key_update(bool update_requested);
    bool kernel_next_key(bool tx);
    bool kernel_key_update_out();
    void flush_plain();
    void pump_sealed();
    MapSeal seal_from_map(output::Piece& s, size_t n);
    MapSeal seal_head_and_map(output::Piece& head, output::Piece& f);
    void file_sealed(size_t n, bool mapped);
    [[nodiscard]] bool user_tx() const;

    std::unique_ptr<State> t_;  // per connection; wiped and freed when the connection ends
    tls::Context* ctx_ = nullptr;
    bool handshaking_ = false;
};

}  // namespace sluice::transport
