#include "transport/tls.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "base/sigbus.h"
#include "files/cache.h"
#include "files/mapping.h"
#include "ktls/control.h"
#include "ktls/socket.h"
#include "record/hkdf.h"
#include "record/key_update.h"
#include "record/record.h"
#include "obs/counters.h"
#include "tls/alerts.h"
#include "tls/context.h"
#include "tls/peer_records.h"
#include "tls/session.h"

namespace sluice::transport {

namespace {

// Plaintext sealed per send in user TX mode. Each chunk is one seal-then-send round trip on the
// ring, and when the client drains slowly the worker sleeps and wakes once per chunk: 256 KiB
// measured 0.77 s/GB of server CPU against 1.05 s/GB at 64 KiB (bench/compare https-16m). The
// cost: up to ~256 KiB of sealed records per connection while a body is in flight (released
// when the connection goes idle); kTLS connections splice and hold none.
constexpr size_t kSealChunk = 256 * 1024;
constexpr size_t kReadChunk = 64 * 1024;  // cold file chunks read through the ring (filebuf)
constexpr size_t kKeepWireBytes = 4096;  // sealed-output capacity kept between responses
constexpr uint64_t kResidentWindow = 1024 * 1024;  // mincore asked once per this many bytes

}  // namespace

struct TlsSocket::State {
    std::unique_ptr<tls::Session> session;
    std::unique_ptr<record::Sealer> sealer;  // user TX
    std::unique_ptr<record::Opener> opener;  // user RX
    bool tx_kernel = false;
    bool rx_kernel = false;
    bool handshake_done = false;
    bool handshake_failed = false;
    bool handshake_counted = false;  // in handshakes_ok or handshakes_failed
    bool notify_sent = false;
    bool notify_in_flight = false;
    bool wire_in_flight = false;
    tls::Version version = tls::Version::Tls13;
    tls::Cipher cipher = tls::Cipher::Aes128Gcm;
    std::string wire;     // bytes to put on the socket as they are (handshake or sealed)
    size_t wire_off = 0;
    // Records produced while `wire` is being sent (alerts, KeyUpdate): `wire` must not be
    // touched until its send completes, so they wait here and go out next.
    std::string wire_next;
    std::string& append_target() { return wire_in_flight ? wire_next : wire; }
    // User TX: one sealed alert record, after whatever is queued.
    bool seal_alert(uint8_t level, uint8_t description) {
        const char a[2] = {static_cast<char>(level), static_cast<char>(description)};
        return sealer && sealer->seal(record::ContentType::Alert, std::string_view(a, 2),
                                      append_target());
    }
    std::string plain;    // decrypted application data for the HTTP parser
    std::unique_ptr<tls::PeerRecords> peer;  // what the client may send after the handshake
    // A fatal alert is owed: once nothing is in flight it goes out, and the connection ends.
    bool fatal = false;
    bool fatal_sent = false;
    uint8_t fatal_alert = 0;
    unsigned warnings_owed = 0;  // kernel TX: no_renegotiation warnings waiting for ctl_op_
    bool notify_after_ctl = false;  // kernel TX: close_notify waits for ctl_op_
    std::unique_ptr<char[]> filebuf;  // user TX: a file chunk being read
    ktls::RecvWithType rxmsg;
    ktls::ControlSend ctl;
    // TLS 1.3 on a kernel that can rekey: the traffic secrets of the directions the kernel
    // holds (no key or IV between updates), to derive its next keys on a KeyUpdate. Null
    // otherwise: then no secret outlives the handoff. Wiped with State.
    std::unique_ptr<tls::TrafficKeys> kernel_secrets;
    // Kernel TX owes the peer a KeyUpdate: it goes out once the queue's bytes before
    // position ku_after are on the socket.
    bool ku_pending = false;
    bool ku_in_flight = false;
    uint64_t ku_after = 0;
    std::string log_tag;  // "TLSv1.3 AES128-GCM user"
    std::string alpn;     // what the handshake agreed on ("" if the client offered none)
    // seal_head_and_map: [resident_from, resident_to) of resident_v's file was resident when
    // last asked (the variant is held by the queue's pieces while they are sealed).
    const files::Variant* resident_v = nullptr;
    uint64_t resident_from = 0;
    uint64_t resident_to = 0;
};

TlsSocket::TlsSocket(const Env& env, output::Queue& q, Sink& sink) : Socket(env, q, sink) {}
TlsSocket::~TlsSocket() = default;

bool TlsSocket::user_tx() const { return t_ && !handshaking_ && !t_->tx_kernel; }

void TlsSocket::use(tls::Context& ctx) { ctx_ = &ctx; }

void TlsSocket::start() {
    t_ = std::make_unique<State>();
    t_->session = std::make_unique<tls::Session>(*ctx_);
    handshaking_ = true;
    set_deadline(Deadline::Handshake, env_.handshake_timeout_s);
    arm_input();
}

void TlsSocket::reset_tls() {
    t_.reset();
    handshaking_ = false;
}

// Every TLS connection ends its handshake counted once: ok at the handoff, failed here —
// refused, timed out, or cut by the peer (FIN or RST) before the keys were handed off.
void TlsSocket::handshake_failed() {
    if (!t_ || t_->handshake_counted) return;
    t_->handshake_counted = true;
    env_.counters->handshakes_failed.add(1);
}

// ---- handshake ---------------------------------------------------------------------------

void TlsSocket::drive_handshake() {
    State& t = *t_;
    const tls::Session::Step step = t.session->advance();
    std::string_view out = t.session->output();
    if (!out.empty()) {
        t.wire.append(out);
        t.session->consume_output(out.size());
    }
    if (step == tls::Session::Step::Failed) {
        t.handshake_failed = true;
        handshake_failed();
        if (t.session->violation()) env_.counters->tls_alerts_sent.add(1);
    } else if (step == tls::Session::Step::Done) {
        t.handshake_done = true;
    }
    if (t.wire_off < t.wire.size()) {
        send_wire();  // the flight (or the alert) first; its completion continues
        return;
    }
    after_flight();
}

// Called when everything the handshake produced is on the socket.
void TlsSocket::after_flight() {
    State& t = *t_;
    if (t.handshake_failed) {
        finish();
        return;
    }
    if (t.handshake_done) {
        handoff();
        return;
    }
    arm_input();  // WantRead
}

// The client closed mid-handshake: a partial hello is still answered (decode_error).
void TlsSocket::on_peer_fin() {
    if (!handshaking_) {
        Socket::on_peer_fin();
        return;
    }
    State& t = *t_;
    read_eof_ = true;
    if (t.handshake_failed || t.handshake_done) return;
    (void)t.session->on_eof();
    std::string_view out = t.session->output();
    if (!out.empty()) {
        t.wire.append(out);
        t.session->consume_output(out.size());
    }
    t.handshake_failed = true;
    handshake_failed();
    if (t.session->violation()) env_.counters->tls_alerts_sent.add(1);
    if (t.wire_off < t.wire.size())
        send_wire();  // its completion closes (after_flight)
    else
        finish();
}

void TlsSocket::handoff() {
    State& t = *t_;
    auto keys = t.session->export_keys();
    if (!keys) {
        handshake_failed();
        finish();
        return;
    }
    t.handshake_counted = true;
    env_.counters->handshakes_ok.add(1);
    t.version = keys->version;
    t.cipher = keys->cipher;
    const bool mfl = t.session->max_fragment_negotiated();
    t.alpn.assign(t.session->alpn());
    std::string leftover = t.session->take_leftover();
    t.session.reset();  // wolfSSL_free: no TLS library state survives the handshake

    // Bytes that arrived after Finished: complete records are opened here with the RX key
    // (advancing its sequence) before the kernel could take RX over; a partial record keeps
    // RX in userspace for this connection (the kernel would start parsing mid-record).
    auto opener = record::Opener::make(*keys);
    auto sealer = record::Sealer::make(*keys);
    if (!opener || !sealer) {
        finish();
        return;
    }
    // Each record passes the same policy as later ones; the first that is not application
    // data (or does not open) stops this loop and is dealt with once the record layer is in
    // place, with RX kept in userspace so what follows it is opened in order.
    auto peer = std::make_unique<tls::PeerRecords>(keys->version);
    std::string plain;
    std::optional<tls::RecordAction> held;
    std::string held_data;
    int open_error = 0;
    (*opener)->feed(std::string_view(leftover));
    for (;;) {
        auto r = (*opener)->next();
        if (!r) {
            open_error = r.error().code;
            break;
        }
        if (!*r) break;
        const tls::RecordAction a = peer->on_record(static_cast<uint8_t>((*r)->type),
                                                    (*r)->text());
        if (a.kind == tls::RecordAction::Kind::Deliver) {
            plain.append((*r)->text());
            continue;
        }
        if (a.kind == tls::RecordAction::Kind::Ignore) continue;
        held = a;
        held_data.assign((*r)->text());
        break;
    }
    const bool partial = open_error != 0 || held || (*opener)->buffered() > 0;
    keys->rx.seq = (*opener)->seq();

    bool want_kernel = env_.ktls != Env::Ktls::Off && !mfl && env_.ktls_available;
    if (want_kernel) {
        if (auto r = ktls::attach_ulp(fd_.get()); !r) {
            env_.ktls_host->failure(r.error().code);
        } else {
            if (auto tx = ktls::set_tx(fd_.get(), *keys); tx) {
                t.tx_kernel = true;
                if (env_.tx_zerocopy_ro) (void)ktls::set_tx_zerocopy_ro(fd_.get());
            } else {
                env_.ktls_host->failure(tx.error().code);
            }
            if (!partial) {
                if (auto rx = ktls::set_rx(fd_.get(), *keys); rx)
                    t.rx_kernel = true;
                else
                    env_.ktls_host->failure(rx.error().code);
            }
        }
    }
    if (!t.tx_kernel) t.sealer = std::move(*sealer);
    if (!t.rx_kernel) t.opener = std::move(*opener);
    if (t.version == tls::Version::Tls13 && (t.tx_kernel || t.rx_kernel) && env_.ktls_rekey) {
        // Only here do secrets outlive the handoff: without them a kernel direction could not
        // follow a KeyUpdate, and kernels before 6.14 cannot anyway (docs/design.md).
        auto s = std::make_unique<tls::TrafficKeys>();
        s->version = t.version;
        s->cipher = t.cipher;
        auto keep = [](const tls::DirectionKeys& from, tls::DirectionKeys& to) {
            memcpy(to.secret, from.secret, from.secret_len);
            to.secret_len = from.secret_len;
            return from.secret_len != 0;
        };
        const bool ok = (!t.tx_kernel || keep(keys->tx, s->tx)) &&
                        (!t.rx_kernel || keep(keys->rx, s->rx));
        if (ok) t.kernel_secrets = std::move(s);
    }
    keys->wipe();

    // The kernel may have given a direction to the NIC (TLS_HW); only sock_diag says so.
    // kernel-hw: both directions in the kernel and at least one of them on the NIC.
    const KtlsHost::Hw hw = env_.ktls_host && (t.tx_kernel || t.rx_kernel)
                                ? env_.ktls_host->where(fd_.get(), t.tx_kernel, t.rx_kernel)
                                : KtlsHost::Hw{};
    const bool on_nic = hw.tx || hw.rx;
    const char* mode = t.tx_kernel && t.rx_kernel ? (on_nic ? "kernel-hw" : "kernel-sw")
                       : (t.tx_kernel || t.rx_kernel) ? "mixed"
                                                      : "user";
    obs::WorkerCounters& c = *env_.counters;
    if (t.tx_kernel && t.rx_kernel) {
        c.tls_mode_kernel.add(1);
        if (on_nic) c.tls_mode_kernel_hw.add(1);
    } else if (t.tx_kernel || t.rx_kernel) {
        c.tls_mode_mixed.add(1);
    } else {
        c.tls_mode_user.add(1);
    }
    t.log_tag = std::string(tls::version_name(t.version)) + " " +
                std::string(tls::cipher_name(t.cipher)) + " " + mode;

    t.peer = std::move(peer);
    handshaking_ = false;
    // --ktls require: a direction the kernel refused. RX kept in userspace by what came
    // with the Finished (a partial record, a KeyUpdate) is a protocol matter, not a refusal.
    const bool refused = !t.tx_kernel || (!partial && !t.rx_kernel);
    if (env_.ktls == Env::Ktls::Require && refused) {
        // The kernel refused this connection's keys: say so with an alert and close.
        c.ktls_refused.add(1);
        fatal(tls::Violation::KernelRefused);
        return;
    }
    deadline_ = Deadline::None;  // the protocol's timeouts from here
    sink_.on_ready({t.alpn, t.log_tag});
    if (closing_) return;
    deliver(plain);
    if (closing_) return;
    if (open_error != 0) {
        fatal(tls::violation_for_errno(open_error));
        return;
    }
    if (held) {
        if (!apply(*held, held_data)) return;
        if (t.opener) on_ciphertext({});  // records after it, in order
        return;
    }
    arm_input();
}

// ---- wire output (handshake flights, sealed records, alerts) ------------------------------

void TlsSocket::send_wire() {
    State& t = *t_;
    if (t.wire_in_flight || t.wire_off >= t.wire.size()) return;
    t.wire_in_flight = true;
    env_.ring->send(send_op_, fd_.get(), t.wire.data() + t.wire_off, t.wire.size() - t.wire_off,
                   MSG_NOSIGNAL);
    set_deadline(handshaking_ ? Deadline::Handshake : Deadline::Send,
                 handshaking_ ? env_.handshake_timeout_s : env_.send_timeout_s);
}

void TlsSocket::on_wire_sent(int res) {
    State& t = *t_;
    t.wire_in_flight = false;
    if (res <= 0 && t.fatal && !t.fatal_sent) {
        fatal_progress();  // the send before the alert failed: the alert may still go
        return;
    }
    if (res <= 0) {
        finish();
        return;
    }
    env_.counters->bytes_sent.add(static_cast<uint64_t>(res));
    t.wire_off += static_cast<size_t>(res);
    if (t.wire_off < t.wire.size()) {
        send_wire();
        return;
    }
    t.wire.clear();
    t.wire_off = 0;
    // Every byte taken from the queue was sealed into this wire: all of it is out now.
    if (q_.sent() != q_.taken()) {
        q_.all_sent();
        if (!q_.idle()) sink_.on_sent(false);
        if (closing_) return;
    }
    if (!t.wire_next.empty()) {
        t.wire.swap(t.wire_next);
        send_wire();
        return;
    }
    if (handshaking_) {
        if (t.session && !t.handshake_done && !t.handshake_failed) {
            drive_handshake();  // input may have arrived while the flight was going out
        } else {
            after_flight();
        }
        return;
    }
    if (t.notify_in_flight) {
        t.notify_in_flight = false;
        close_sequence();
        return;
    }
    pump();
}

// A violation by the peer (RFC 8446 §6.2): its alert is the last record we write, then the
// connection closes at once — queued responses are dropped, input is no longer read, and only
// a send already in flight may finish first (its record must not be cut).
void TlsSocket::fatal(tls::Violation v) {
    State& t = *t_;
    if (t.fatal) return;
    t.fatal = true;
    t.fatal_alert = tls::alert_for(v);
    env_.counters->tls_alerts_sent.add(1);
    rx_stopped_ = true;
    arm_input();  // stops a multishot recv
    fatal_progress();
}

void TlsSocket::fatal_progress() {
    State& t = *t_;
    if (closing_ || output_in_flight()) return;  // each of their completions comes back here
    if (t.fatal_sent) {
        // The alert is queued: FIN right behind it, then close once the client has both —
        // an unread record left in the kernel (kTLS) would turn an early close() into an RST
        // that discards the alert still in the send queue. No reading, at most 1 s.
        ::shutdown(fd_.get(), SHUT_WR);
        if (send_queue_empty()) {
            finish();
            return;
        }
        lingering_ = true;
        linger_no_read_ = true;
        set_deadline(Deadline::Linger, 1.0);
        return;
    }
    t.fatal_sent = true;
    set_deadline(Deadline::Send, 1.0);  // a client that never reads cannot hold the slot
    if (t.tx_kernel) {
        // A failed kTLS RX left its error in sk_err, which the next send would return
        // instead of sending (docs/ktls-facts.md §3.6): take it first.
        int err = 0;
        socklen_t len = sizeof err;
        (void)::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        set_cork(false);
        ctl_alert(tls::alert::kLevelFatal, t.fatal_alert);
        return;
    }
    if (!t.seal_alert(tls::alert::kLevelFatal, t.fatal_alert)) {
        finish();
        return;
    }
    send_wire();
}

// A warning the connection survives (no_renegotiation), after whatever is queued.
void TlsSocket::send_warning(uint8_t description) {
    State& t = *t_;
    if (t.tx_kernel) {
        if (ctl_op_.in_flight()) {
            ++t.warnings_owed;
            return;
        }
        ctl_alert(tls::alert::kLevelWarning, description);
        return;
    }
    (void)t.seal_alert(tls::alert::kLevelWarning, description);
    // While a response is in progress its own sends carry the record along.
    if (q_.all_taken() && !file_read_op_.in_flight()) send_wire();
}

// close_notify after the last body byte; returns true when the close continues later.
bool TlsSocket::close_notify() {
    if (!t_ || handshaking_ || t_->notify_sent || t_->handshake_failed) return false;
    State& t = *t_;
    if (t.tx_kernel && ctl_op_.in_flight()) {
        // ctl_op_ and its buffer belong to the record in flight (a warning, a KeyUpdate):
        // close_notify follows when it completes.
        t.notify_after_ctl = true;
        return true;
    }
    t.notify_sent = true;
    if (t.tx_kernel) {
        t.notify_in_flight = true;
        ctl_alert(tls::alert::kLevelWarning, tls::alert::kCloseNotify);
        return true;
    }
    if (!t.seal_alert(tls::alert::kLevelWarning, tls::alert::kCloseNotify)) return false;
    t.notify_in_flight = true;
    send_wire();
    return true;
}

void TlsSocket::on_ctl_sent(int res) {
    State& t = *t_;
    if (t.fatal) {
        t.ku_in_flight = false;
        t.notify_in_flight = false;
        fatal_progress();
        return;
    }
    if (t.ku_in_flight) {
        // Our KeyUpdate left under the old key; nothing else was sent since, so every record
        // from here on is under the next one.
        t.ku_in_flight = false;
        t.ku_pending = false;
        if (res != static_cast<int>(record::key_update_message(false).size()) ||
            !kernel_next_key(true)) {
            env_.counters->tls_keyupdate_rekey_failed.add(1);
            finish();
            return;
        }
        env_.counters->tls_keyupdate_kernel_tx_rekeyed.add(1);
        if (t.notify_after_ctl) {
            t.notify_after_ctl = false;
            close_sequence();
        } else if (!send_owed_warning()) {
            pump();
        }
        return;
    }
    if (t.notify_in_flight) {
        t.notify_in_flight = false;
        close_sequence();
        return;
    }
    if (res < 0) {
        finish();
        return;
    }
    if (t.notify_after_ctl) {
        t.notify_after_ctl = false;
        t.warnings_owed = 0;  // nothing after close_notify
        close_sequence();
        return;
    }
    // A warning went out: the next one owed, else whatever waited for ctl_op_.
    if (!send_owed_warning()) pump();
}

// Kernel TX: the next no_renegotiation warning that waited for ctl_op_. True if submitted.
bool TlsSocket::send_owed_warning() {
    State& t = *t_;
    if (t.warnings_owed == 0 || ctl_op_.in_flight()) return false;
    --t.warnings_owed;
    ctl_alert(tls::alert::kLevelWarning, tls::alert::kNoRenegotiation);
    return true;
}

// Kernel TX: one alert record by sendmsg + TLS_SET_RECORD_TYPE (ctl_op_ must be free).
void TlsSocket::ctl_alert(uint8_t level, uint8_t description) {
    t_->ctl.prepare_alert(level, description);
    env_.ring->sendmsg(ctl_op_, fd_.get(), &t_->ctl.msg, MSG_NOSIGNAL);
}

// ---- user RX: records opened in memory ----------------------------------------------------

void TlsSocket::on_bytes(std::string_view data) {
    if (!t_) {
        deliver(data);
        return;
    }
    on_ciphertext(data);
}

void TlsSocket::on_ciphertext(std::string_view data) {
    State& t = *t_;
    if (handshaking_) {
        t.session->feed(data);
        if (!t.wire_in_flight) drive_handshake();
        return;
    }
    t.opener->feed(data);
    for (;;) {
        auto r = t.opener->next();
        if (!r) {
            fatal(tls::violation_for_errno(r.error().code));
            return;
        }
        if (!*r) break;
        if (!on_record(static_cast<uint8_t>((*r)->type), (*r)->text())) return;
        if (closing_ || t.fatal) return;
    }
    flush_plain();
}

// Decrypted application data goes up; `plain` is swapped out first because delivering may
// come back here (a response sealed, a record opened).
void TlsSocket::flush_plain() {
    if (t_->plain.empty()) return;
    std::string plain;
    plain.swap(t_->plain);
    deliver(plain);
    if (t_ && t_->plain.empty() && plain.capacity() <= 4096) {  // small: idle ones stay cheap
        plain.clear();
        t_->plain.swap(plain);  // keep the allocation
    }
}

// One decrypted record (user RX, or a kernel RX control record). False: stop reading records.
bool TlsSocket::on_record(uint8_t type, std::string_view data) {
    return apply(t_->peer->on_record(type, data), data);
}

bool TlsSocket::apply(const tls::RecordAction& a, std::string_view data) {
    State& t = *t_;
    using Kind = tls::RecordAction::Kind;
    switch (a.kind) {
    case Kind::Deliver:
        t.plain.append(data);
        return true;
    case Kind::Ignore:
        return true;
    case Kind::Warn:
        env_.counters->tls_renegotiations_refused.add(a.warnings);
        for (unsigned i = 0; i < a.warnings; ++i) send_warning(tls::alert::kNoRenegotiation);
        return true;
    case Kind::CloseNotify:
        // close_notify is the TLS end of input: requests received before it are still
        // answered, then ours goes out and the connection closes (RFC 8446 §6.1).
        flush_plain();
        if (closing_) return false;
        read_eof_ = true;
        sink_.on_eof();
        return false;
    case Kind::PeerAlert:
        // RFC 8446 §6.2: after a fatal alert nothing more is read or written.
        env_.counters->tls_peer_alerts.add(1);
        finish();
        return false;
    case Kind::KeyUpdate:
        return on_key_update(a.update_requested);
    case Kind::Fatal:
        fatal(a.violation);
        return false;
    }
    return false;
}

bool TlsSocket::on_key_update(bool update_requested) {
    State& t = *t_;
    const record::KeyUpdatePlan plan = record::plan_key_update(
        t.rx_kernel, t.tx_kernel, t.kernel_secrets != nullptr, update_requested);
    if (plan.close) {
        env_.counters->tls_keyupdate_closed.add(1);
        rx_stopped_ = true;
        if (t.rx_kernel) {
            // 6.1–6.13 cannot rekey RX: end the connection cleanly instead of failing
            // mid-stream. Records under the new key stay unread (the kernel cannot open them),
            // so the close waits for our send queue to drain instead of reading (tick).
            close_opts_.linger = true;
            linger_no_read_ = true;
        }
        arm_input();  // stops a multishot recv
        flush_plain();
        if (closing_) return false;
        sink_.on_eof();  // what was asked before it is answered, then the connection closes
        return false;
    }
    if (plan.rx == record::Rekey::Kernel) {
        // The kernel stopped decrypting after the KeyUpdate record (reads would fail with
        // EKEYEXPIRED); the next read is armed only after this returns.
        if (!kernel_next_key(false)) {
            env_.counters->tls_keyupdate_rekey_failed.add(1);
            finish();
            return false;
        }
        env_.counters->tls_keyupdate_kernel_rekeyed.add(1);
    } else if (!t.opener->update_key()) {
        finish();
        return false;
    }
    if (plan.tx == record::Rekey::User) {
        // Our KeyUpdate goes out under the old key, then the new one is used.
        const auto msg = record::key_update_message(false);
        (void)t.sealer->seal(record::ContentType::Handshake, std::span<const uint8_t>(msg),
                             t.append_target());
        if (!t.sealer->update_key()) {
            finish();
            return false;
        }
        if (q_.all_taken()) send_wire();
    } else if (plan.tx == record::Rekey::Kernel && !t.ku_pending) {
        // After the responses already queued (they were asked for under the old keys), before
        // any queued later; one answer for several requests is enough (RFC 8446 §4.6.3).
        t.ku_pending = true;
        t.ku_after = q_.end();
        (void)kernel_key_update_out();
    }
    return true;
}

// Kernel TX: next secret → key/IV → TLS_TX/TLS_RX with sequence 0. Only the secret is kept.
bool TlsSocket::kernel_next_key(bool tx) {
    tls::TrafficKeys& k = *t_->kernel_secrets;
    tls::DirectionKeys& d = tx ? k.tx : k.rx;
    auto r = record::next_traffic_keys(k.cipher, d);
    if (r) r = tx ? ktls::rekey_tx(fd_.get(), k) : ktls::rekey_rx(fd_.get(), k);
    tls::secure_wipe(d.key, sizeof d.key);
    tls::secure_wipe(d.iv, sizeof d.iv);
    if (!r) env_.ktls_host->failure(r.error().code);
    return r.has_value();
}

// Sends the KeyUpdate we owe once the responses before it are out and no send is in flight:
// a send submitted between it and the TLS_TX rekey would go out under the old key after it.
// True while it is pending or in flight at this point (the caller must not send).
bool TlsSocket::kernel_key_update_out() {
    State& t = *t_;
    if (!t.ku_pending) return false;
    if (t.ku_in_flight) return true;
    if (q_.sent() < t.ku_after) return false;  // earlier bytes first (queued or in the pipe)
    if (pipe_fill_ > 0 || output_in_flight())
        return true;  // their completion calls pump(), which comes back here
    set_cork(false);
    const auto msg = record::key_update_message(false);
    if (!t.ctl.prepare(ktls::kHandshake, msg)) {
        env_.counters->tls_keyupdate_rekey_failed.add(1);
        finish();
        return true;
    }
    t.ku_in_flight = true;
    env_.ring->sendmsg(ctl_op_, fd_.get(), &t.ctl.msg, MSG_NOSIGNAL);
    set_deadline(Deadline::Send, env_.send_timeout_s);
    return true;
}

// ---- kernel RX: recvmsg with the record-type cmsg -----------------------------------------

void TlsSocket::arm_input() {
    if (closing_) return;
    if (!t_) {
        Socket::arm_input();
        return;
    }
    State& t = *t_;
    if (handshaking_) {
        if (t.wire_in_flight || t.handshake_done || t.handshake_failed) return;
        if (recv_op_.in_flight()) return;
        // Single-shot reads during the handshake: nothing is read far beyond Finished.
        arm_recv(false);
        return;
    }
    if (!t.rx_kernel) {
        Socket::arm_input();  // user RX: the plain recv path, bytes go to the opener
        return;
    }
    if (recvmsg_op_.in_flight() || !should_read()) return;
    if (env_.bufs) {
        t.rxmsg.prepare(nullptr, 0);  // the kernel picks a provided buffer
        env_.ring->recvmsg(recvmsg_op_, fd_.get(), &t.rxmsg.msg, env_.bufs);
    } else {
        t.rxmsg.prepare(own_rxbuf(), kRxBufSize);
        env_.ring->recvmsg(recvmsg_op_, fd_.get(), &t.rxmsg.msg, nullptr);
    }
}

void TlsSocket::on_recvmsg(int res, uint32_t flags) {
    State& t = *t_;
    core::BufferRing* b = env_.bufs;
    if (res > 0) {
        const bool provided = core::cqe_buffer(flags) >= 0;
        const auto bid = static_cast<uint16_t>(core::cqe_buffer(flags));
        std::string_view data(provided ? b->buffer(bid) : rxbuf_.get(), static_cast<size_t>(res));
        const uint8_t type = t.rxmsg.record_type().value_or(ktls::kApplicationData);
        bool go_on = true;
        if (type == ktls::kApplicationData && t.peer->mid_message()) {
            // The kernel hands data up without the record view: the interleave check here.
            if (provided) b->recycle(bid);
            fatal(tls::Violation::InterleavedRecord);
            return;
        }
        if (type == ktls::kApplicationData) {
            t.peer->on_application_data();
            deliver(data);
        } else {
            go_on = on_record(type, data);
        }
        if (provided) b->recycle(bid);
        if (!go_on || closing_) return;
    } else if (res == 0 && t.rxmsg.record_type().value_or(ktls::kApplicationData) !=
                               ktls::kApplicationData) {
        // An empty control record (a zero-length alert or handshake fragment), not EOF.
        if (core::cqe_buffer(flags) >= 0)
            b->recycle(static_cast<uint16_t>(core::cqe_buffer(flags)));
        if (!on_record(*t.rxmsg.record_type(), {}) || closing_) return;
    } else if (res == 0) {
        Socket::on_peer_fin();
        return;
    } else if (res == -ENOBUFS) {
        recv_starved_ = true;
        return;
    } else if (res == -EBADMSG || res == -EMSGSIZE || res == -EINVAL) {
        // The kernel's record checks failed (net/tls): the same alert as the user layer.
        fatal(tls::violation_for_errno(-res));
        return;
    } else if (res == -EKEYEXPIRED) {
        // 6.14+ stops reading at a handshake record that begins a KeyUpdate; one split over
        // records cannot be followed there (its tail is under the old key, the kernel wants
        // the new one): it is ours that cannot go on, hence internal_error.
        fatal(tls::Violation::Internal);
        return;
    } else if (res < 0 && res != -ECANCELED) {
        finish();  // ECONNRESET, EIO: the stream is broken
        return;
    }
    arm_input();
}

// ---- user TX: seal output, reading file chunks through the ring ---------------------------

namespace {
// What seal_mapped needs; it runs under base::run_guarded, so it may be abandoned mid-way:
// nothing here owns anything (Sealer::seal resizes `wire` before it reads the source).
struct SealArgs {
    record::Sealer* sealer;
    const char* src;
    size_t n;
    std::string* wire;
    bool ok;
    std::string_view head = {};  // seal_head_mapped: bytes from memory in front of src
};

// One record of `head` (an HTTP/2 frame header, an HTTP/1 head) and mapped file bytes.
void seal_head_mapped(void* p) {
    auto* a = static_cast<SealArgs*>(p);
    const std::string_view parts[] = {a->head, std::string_view(a->src, a->n)};
    a->ok = a->sealer->seal_parts(record::ContentType::ApplicationData, parts, *a->wire)
                .has_value();
}

void seal_mapped(void* p) {
    auto* a = static_cast<SealArgs*>(p);
    a->ok = a->sealer
                ->seal(record::ContentType::ApplicationData, std::string_view(a->src, a->n),
                       *a->wire)
                .has_value();
}
}  // namespace

// Seals the next `n` file bytes of `s` straight from a mapping of the file when its pages are
// in the page cache (no read copy). Cold: the caller reads them through the ring instead, so
// the event loop never faults onto the disk. A file that shrank under the mapping faults
// (SIGBUS, caught): this response cannot be completed, like a short read.
TlsSocket::MapSeal TlsSocket::seal_from_map(output::Piece& s, size_t n) {
    const files::Variant* v = s.file;
    if (v == nullptr || n == 0) return MapSeal::Cold;
    const files::Mapping* map = v->mapped();
    if (map == nullptr || !map->resident(s.file_off, n)) return MapSeal::Cold;
    const char* src = map->data() + s.file_off;
    SealArgs a{t_->sealer.get(), src, n, &t_->wire, false};
    if (!base::run_guarded(src, n, seal_mapped, &a)) {
        env_.counters->tls_body_truncated.add(1);
        v->map_faulted();
        finish();
        return MapSeal::Failed;
    }
    if (!a.ok) {
        finish();
        return MapSeal::Failed;
    }
    file_sealed(n, true);
    return MapSeal::Sealed;
}

TlsSocket::MapSeal TlsSocket::seal_head_and_map(output::Piece& head, output::Piece& f) {
    const files::Variant* v = f.file;
    const size_t hn = static_cast<size_t>(head.len);
    const size_t n = static_cast<size_t>(std::min<uint64_t>(f.len, record::kMaxPlaintext - hn));
    if (v == nullptr || n == 0) return MapSeal::Cold;
    const files::Mapping* map = v->mapped();
    if (map == nullptr) return MapSeal::Cold;
    // Residency is asked (mincore) a MiB ahead, not per 16 KiB record.
    State& t = *t_;
    if (t.resident_v != v || f.file_off < t.resident_from || f.file_off + n > t.resident_to) {
        const uint64_t size = static_cast<uint64_t>(v->st.st_size);
        const uint64_t span = std::max<uint64_t>(
            n, std::min<uint64_t>(kResidentWindow, size > f.file_off ? size - f.file_off : 0));
        if (!map->resident(f.file_off, span)) {
            t.resident_v = nullptr;
            if (!map->resident(f.file_off, n)) return MapSeal::Cold;
        } else {
            t.resident_v = v;
            t.resident_from = f.file_off;
            t.resident_to = f.file_off + span;
        }
    }
    const char* src = map->data() + f.file_off;
    SealArgs a{t_->sealer.get(), src, n, &t_->wire, false, std::string_view(head.data, hn)};
    if (!base::run_guarded(src, n, seal_head_mapped, &a)) {
        env_.counters->tls_body_truncated.add(1);
        t.resident_v = nullptr;
        v->map_faulted();
        finish();
        return MapSeal::Failed;
    }
    if (!a.ok) {
        finish();
        return MapSeal::Failed;
    }
    env_.counters->tls_bytes_sealed.add(hn + n);
    env_.counters->tls_bytes_sealed_mapped.add(n);
    q_.take(hn + n);
    return MapSeal::Sealed;
}

void TlsSocket::pump_sealed() {
    State& t = *t_;
    if (t.wire_in_flight || file_read_op_.in_flight()) return;
    if (t.wire_off < t.wire.size()) {
        send_wire();
        return;
    }
    t.wire.clear();
    t.wire_off = 0;
    size_t sealed = 0;
    while (q_.pieces() > 0 && sealed < kSealChunk) {
        output::Piece& s = q_.piece(0);
        if (!s.is_file() && s.len < record::kMaxPlaintext && q_.pieces() > 1 &&
            q_.piece(1).is_file()) {
            // Memory followed by a file (an HTTP/2 DATA frame: 9 + 16,375 bytes; a head and
            // its body): one record from both, the file part sealed straight from its mapping.
            const MapSeal m = seal_head_and_map(s, q_.piece(1));
            if (m == MapSeal::Failed) return;
            if (m == MapSeal::Sealed) {
                sealed += record::kMaxPlaintext;
                continue;
            }
        }
        if (s.is_file()) {
            const auto want = static_cast<size_t>(std::min<uint64_t>(s.len, kSealChunk - sealed));
            const MapSeal m = seal_from_map(s, want);
            if (m == MapSeal::Failed) return;  // closed
            if (m == MapSeal::Sealed) {
                sealed += want;
                continue;
            }
            if (sealed > 0) break;  // send what is sealed first
            if (!t.filebuf) t.filebuf = std::make_unique<char[]>(kReadChunk);
            const auto n = static_cast<unsigned>(std::min<uint64_t>(s.len, kReadChunk));
            env_.ring->read(file_read_op_, s.fd, t.filebuf.get(), n, s.file_off);
            set_deadline(Deadline::Send, env_.send_timeout_s);
            return;
        }
        const size_t n = static_cast<size_t>(std::min<uint64_t>(s.len, kSealChunk - sealed));
        if (!t.sealer->seal(record::ContentType::ApplicationData, std::string_view(s.data, n),
                            t.wire)) {
            finish();
            return;
        }
        env_.counters->tls_bytes_sealed.add(n);
        sealed += n;
        q_.take(n);
    }
    if (!t.wire.empty()) {
        send_wire();
        return;
    }
    t.filebuf.reset();
    if (t.wire.capacity() > kKeepWireBytes) std::string().swap(t.wire);  // idle: small
    drained();
}

void TlsSocket::on_file_read(int res) {
    State& t = *t_;
    if (t.fatal) {
        fatal_progress();
        return;
    }
    if (res <= 0) {
        finish();  // read error or the file shrank below the promised length
        return;
    }
    const auto n = static_cast<size_t>(res);
    env_.counters->file_ring_read_bytes.add(n);
    if (!t.sealer->seal(record::ContentType::ApplicationData,
                        std::string_view(t.filebuf.get(), n), t.wire)) {
        finish();
        return;
    }
    file_sealed(n, false);
    send_wire();
}

void TlsSocket::file_sealed(size_t n, bool mapped) {
    env_.counters->tls_bytes_sealed.add(n);
    if (mapped) env_.counters->tls_bytes_sealed_mapped.add(n);
    q_.take(n);
}

// ---- hooks -------------------------------------------------------------------------------

void TlsSocket::pump() {
    if (t_ && t_->fatal) {
        fatal_progress();  // nothing but the alert goes out now
        return;
    }
    if (closing_ || handshaking_ || output_in_flight()) return;
    if (user_tx()) {
        pump_sealed();
        return;
    }
    if (t_ && kernel_key_update_out()) return;  // a KeyUpdate we owe goes first
    write_queue();
}

bool TlsSocket::divert_output() {
    if (!t_ || !t_->fatal) return false;
    fatal_progress();  // whatever this op did, only the alert goes out now
    return true;
}

bool TlsSocket::before_drained() { return t_ && kernel_key_update_out(); }

uint64_t TlsSocket::send_limit() const {
    return t_ && t_->ku_pending ? t_->ku_after : UINT64_MAX;
}

void TlsSocket::on_finish() {
    if (handshaking_) handshake_failed();  // e.g. a reset in the middle of it
}

void TlsSocket::on_deadline(Deadline d) {
    if (d == Deadline::Handshake) {
        // --handshake-timeout: a handshake that failed, not a slow request.
        handshake_failed();
        env_.counters->handshake_timeouts.add(1);
        finish();
        return;
    }
    Socket::on_deadline(d);
}

void TlsSocket::on_send(int res) {
    if (t_ && t_->wire_in_flight)
        on_wire_sent(res);
    else
        Socket::on_send(res);
}

}  // namespace sluice::transport
