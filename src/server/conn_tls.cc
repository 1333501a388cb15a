// server/conn_tls.cc — the TLS half of Conn: handshake on the ring (wolfSSL via tls::Session,
// sans-I/O), the handoff of the keys to the kernel (kTLS) or to the userspace record layer,
// and record I/O after it: kernel RX reads with recvmsg + record-type cmsg, user RX opens
// records in memory, user TX seals output (files are read through the ring first), kernel TX
// is plain send/splice. docs/ktls-facts.md §2 gives the handoff order followed here; §3.4 the
// TLS 1.3 KeyUpdate on kernels that can rekey (6.14+).
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "base/sigbus.h"
#include "ktls/control.h"
#include "ktls/socket.h"
#include "record/hkdf.h"
#include "record/key_update.h"
#include "record/record.h"
#include "server/conn.h"
#include "server/worker.h"
#include "tls/alerts.h"
#include "tls/context.h"
#include "tls/peer_records.h"
#include "tls/session.h"

namespace sluice::server {

namespace {

// Plaintext sealed per send in user TX mode. Each chunk is one seal-then-send round trip on the
// ring, and when the client drains slowly the worker sleeps and wakes once per chunk: 256 KiB
// measured 0.77 s/GB of server CPU against 1.05 s/GB at 64 KiB (bench/compare https-16m). The
// cost: up to ~256 KiB of sealed records per connection while a body is in flight (released
// when the connection goes idle); kTLS connections splice and hold none.
constexpr size_t kSealChunk = 256 * 1024;
constexpr size_t kReadChunk = 64 * 1024;  // cold file chunks read through the ring (filebuf)
constexpr size_t kKeepWireBytes = 4096;  // sealed-output capacity kept between responses

}  // namespace

struct Conn::TlsState {
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
    // otherwise: then no secret outlives the handoff. Wiped with TlsState.
    std::unique_ptr<tls::TrafficKeys> kernel_secrets;
    // Kernel TX owes the peer a KeyUpdate: it goes out once out_[0, ku_after) is on the socket.
    bool ku_pending = false;
    bool ku_in_flight = false;
    size_t ku_after = 0;
    std::string log_tag;  // "TLSv1.3 AES128-GCM user"
};

// Defined here, where TlsState is complete.
Conn::Conn(Worker& w) : w_(w) {}
Conn::~Conn() = default;

bool Conn::tls_user_tx() const { return tls_ && !handshaking_ && !tls_->tx_kernel; }
bool Conn::tls_wire_in_flight() const { return tls_ && tls_->wire_in_flight; }
bool Conn::tls_fatal_pending() const { return tls_ && tls_->fatal; }

std::string_view Conn::tls_log_tag() const { return tls_ ? std::string_view(tls_->log_tag) : ""; }

void Conn::tls_start(tls::Context& ctx) {
    tls_ = std::make_unique<TlsState>();
    tls_->session = std::make_unique<tls::Session>(ctx);
    handshaking_ = true;
    set_deadline(Deadline::Header, w_.config().handshake_timeout_s);
}

void Conn::tls_release() { tls_.reset(); }

// Every TLS connection ends its handshake counted once: ok at the handoff, failed here —
// refused, timed out, or cut by the peer (FIN or RST) before the keys were handed off.
void Conn::tls_handshake_failed() {
    if (!tls_ || tls_->handshake_counted) return;
    tls_->handshake_counted = true;
    w_.counters().handshakes_failed.add(1);
}

// ---- handshake ---------------------------------------------------------------------------

void Conn::tls_drive_handshake() {
    TlsState& t = *tls_;
    const tls::Session::Step step = t.session->advance();
    std::string_view out = t.session->output();
    if (!out.empty()) {
        t.wire.append(out);
        t.session->consume_output(out.size());
    }
    if (step == tls::Session::Step::Failed) {
        t.handshake_failed = true;
        tls_handshake_failed();
        if (t.session->violation()) w_.counters().tls_alerts_sent.add(1);
    } else if (step == tls::Session::Step::Done) {
        t.handshake_done = true;
    }
    if (t.wire_off < t.wire.size()) {
        tls_send_wire();  // the flight (or the alert) first; its completion continues
        return;
    }
    tls_after_flight();
}

// Called when everything the handshake produced is on the socket.
void Conn::tls_after_flight() {
    TlsState& t = *tls_;
    if (t.handshake_failed) {
        finish_close();
        return;
    }
    if (t.handshake_done) {
        tls_handoff();
        return;
    }
    update_recv();  // WantRead
}

void Conn::tls_on_handshake_bytes(std::string_view data) {
    tls_->session->feed(data);
    if (!tls_->wire_in_flight) tls_drive_handshake();
}

// The client closed mid-handshake: a partial hello is still answered (decode_error).
void Conn::tls_on_handshake_eof() {
    TlsState& t = *tls_;
    read_eof_ = true;
    if (t.handshake_failed || t.handshake_done) return;
    (void)t.session->on_eof();
    std::string_view out = t.session->output();
    if (!out.empty()) {
        t.wire.append(out);
        t.session->consume_output(out.size());
    }
    t.handshake_failed = true;
    tls_handshake_failed();
    if (t.session->violation()) w_.counters().tls_alerts_sent.add(1);
    if (t.wire_off < t.wire.size())
        tls_send_wire();  // its completion closes (tls_after_flight)
    else
        finish_close();
}

void Conn::tls_handoff() {
    TlsState& t = *tls_;
    auto keys = t.session->export_keys();
    if (!keys) {
        tls_handshake_failed();
        finish_close();
        return;
    }
    t.handshake_counted = true;
    w_.counters().handshakes_ok.add(1);
    t.version = keys->version;
    t.cipher = keys->cipher;
    const bool mfl = t.session->max_fragment_negotiated();
    std::string leftover = t.session->take_leftover();
    t.session.reset();  // wolfSSL_free: no TLS library state survives the handshake

    const config::Config& cfg = w_.config();
    // Bytes that arrived after Finished: complete records are opened here with the RX key
    // (advancing its sequence) before the kernel could take RX over; a partial record keeps
    // RX in userspace for this connection (the kernel would start parsing mid-record).
    auto opener = record::Opener::make(*keys);
    auto sealer = record::Sealer::make(*keys);
    if (!opener || !sealer) {
        finish_close();
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

    bool want_kernel = cfg.ktls != config::Config::Ktls::Off && !mfl && w_.ktls_available();
    if (want_kernel) {
        if (auto r = ktls::attach_ulp(fd_.get()); !r) {
            w_.ktls_failure(r.error().code);
        } else {
            if (auto tx = ktls::set_tx(fd_.get(), *keys); tx) {
                t.tx_kernel = true;
                if (cfg.tls_tx_zerocopy_ro) (void)ktls::set_tx_zerocopy_ro(fd_.get());
            } else {
                w_.ktls_failure(tx.error().code);
            }
            if (!partial) {
                if (auto rx = ktls::set_rx(fd_.get(), *keys); rx)
                    t.rx_kernel = true;
                else
                    w_.ktls_failure(rx.error().code);
            }
        }
    }
    if (!t.tx_kernel) t.sealer = std::move(*sealer);
    if (!t.rx_kernel) t.opener = std::move(*opener);
    if (t.version == tls::Version::Tls13 && (t.tx_kernel || t.rx_kernel) && w_.ktls_rekey()) {
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
    const Worker::KtlsHw hw = w_.ktls_where(fd_.get(), t.tx_kernel, t.rx_kernel);
    const bool on_nic = hw.tx || hw.rx;
    const char* mode = t.tx_kernel && t.rx_kernel ? (on_nic ? "kernel-hw" : "kernel-sw")
                       : (t.tx_kernel || t.rx_kernel) ? "mixed"
                                                      : "user";
    obs::WorkerCounters& c = w_.counters();
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
    if (cfg.ktls == config::Config::Ktls::Require && refused) {
        // The kernel refused this connection's keys: say so with an alert and close.
        c.ktls_refused.add(1);
        tls_fatal(tls::Violation::KernelRefused);
        return;
    }
    // The first request is under the header timeout, like on a plain connection.
    set_deadline(Deadline::Header, cfg.header_timeout_s);
    if (!plain.empty()) on_bytes(plain);
    if (closing_) return;
    if (open_error != 0) {
        tls_fatal(tls::violation_for_errno(open_error));
        return;
    }
    if (held) {
        if (!tls_apply(*held, held_data)) return;
        if (t.opener) tls_on_ciphertext({});  // records after it, in order
        return;
    }
    if (!busy()) go_idle();
}

// ---- wire output (handshake flights, sealed records, alerts) ------------------------------

void Conn::tls_send_wire() {
    TlsState& t = *tls_;
    if (t.wire_in_flight || t.wire_off >= t.wire.size()) return;
    t.wire_in_flight = true;
    w_.ring().send(send_op_, fd_.get(), t.wire.data() + t.wire_off, t.wire.size() - t.wire_off,
                   MSG_NOSIGNAL);
    set_deadline(handshaking_ ? Deadline::Header : Deadline::Send,
                 handshaking_ ? w_.config().handshake_timeout_s : w_.config().send_timeout_s);
}

void Conn::tls_on_wire_sent(int res) {
    TlsState& t = *tls_;
    t.wire_in_flight = false;
    if (res <= 0 && t.fatal && !t.fatal_sent) {
        tls_fatal_progress();  // the send before the alert failed: the alert may still go
        return;
    }
    if (res <= 0) {
        abort();
        return;
    }
    w_.counters().bytes_sent.add(static_cast<uint64_t>(res));
    t.wire_off += static_cast<size_t>(res);
    if (t.wire_off < t.wire.size()) {
        tls_send_wire();
        return;
    }
    t.wire.clear();
    t.wire_off = 0;
    if (!t.wire_next.empty()) {
        t.wire.swap(t.wire_next);
        tls_send_wire();
        return;
    }
    if (handshaking_) {
        if (t.session && !t.handshake_done && !t.handshake_failed) {
            tls_drive_handshake();  // input may have arrived while the flight was going out
        } else {
            tls_after_flight();
        }
        return;
    }
    if (t.notify_in_flight) {
        t.notify_in_flight = false;
        close_graceful();
        return;
    }
    pump();
}

// A violation by the peer (RFC 8446 §6.2): its alert is the last record we write, then the
// connection closes at once — queued responses are dropped, input is no longer read, and only
// a send already in flight may finish first (its record must not be cut).
void Conn::tls_fatal(tls::Violation v) {
    TlsState& t = *tls_;
    if (t.fatal) return;
    t.fatal = true;
    t.fatal_alert = tls::alert_for(v);
    w_.counters().tls_alerts_sent.add(1);
    close_after_ = true;
    update_recv();  // stops a multishot recv
    tls_fatal_progress();
}

void Conn::tls_fatal_progress() {
    TlsState& t = *tls_;
    if (closing_ || send_op_.in_flight() || splice_in_op_.in_flight() ||
        splice_out_op_.in_flight() || poll_op_.in_flight() || ctl_op_.in_flight() ||
        file_read_op_.in_flight())
        return;  // each of their completions comes back here (pump)
    if (t.fatal_sent) {
        // The alert is queued: FIN right behind it, then close once the client has both —
        // an unread record left in the kernel (kTLS) would turn an early close() into an RST
        // that discards the alert still in the send queue. No reading, at most 1 s.
        log_cut_short();
        ::shutdown(fd_.get(), SHUT_WR);
        if (send_queue_empty()) {
            finish_close();
            return;
        }
        lingering_ = true;
        linger_no_read_ = true;
        set_deadline(Deadline::Linger, 1.0);
        update_recv();
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
        tls_ctl_alert(tls::alert::kLevelFatal, t.fatal_alert);
        return;
    }
    if (!t.seal_alert(tls::alert::kLevelFatal, t.fatal_alert)) {
        abort();
        return;
    }
    tls_send_wire();
}

// A warning the connection survives (no_renegotiation), after whatever is queued.
void Conn::tls_send_warning(uint8_t description) {
    TlsState& t = *tls_;
    if (t.tx_kernel) {
        if (ctl_op_.in_flight()) {
            ++t.warnings_owed;
            return;
        }
        tls_ctl_alert(tls::alert::kLevelWarning, description);
        return;
    }
    (void)t.seal_alert(tls::alert::kLevelWarning, description);
    // While a response is in progress its own sends carry the record along.
    if (!busy() && !file_read_op_.in_flight()) tls_send_wire();
}

// close_notify after the last body byte; returns true when the close continues later.
bool Conn::tls_close_notify() {
    if (!tls_ || handshaking_ || tls_->notify_sent || tls_->handshake_failed) return false;
    TlsState& t = *tls_;
    if (t.tx_kernel && ctl_op_.in_flight()) {
        // ctl_op_ and its buffer belong to the record in flight (a warning, a KeyUpdate):
        // close_notify follows when it completes.
        t.notify_after_ctl = true;
        return true;
    }
    t.notify_sent = true;
    if (t.tx_kernel) {
        t.notify_in_flight = true;
        tls_ctl_alert(tls::alert::kLevelWarning, tls::alert::kCloseNotify);
        return true;
    }
    if (!t.seal_alert(tls::alert::kLevelWarning, tls::alert::kCloseNotify)) return false;
    t.notify_in_flight = true;
    tls_send_wire();
    return true;
}

void Conn::tls_on_ctl_sent(int res) {
    TlsState& t = *tls_;
    if (t.fatal) {
        t.ku_in_flight = false;
        t.notify_in_flight = false;
        tls_fatal_progress();
        return;
    }
    if (t.ku_in_flight) {
        // Our KeyUpdate left under the old key; nothing else was sent since, so every record
        // from here on is under the next one.
        t.ku_in_flight = false;
        t.ku_pending = false;
        if (res != static_cast<int>(record::key_update_message(false).size()) ||
            !tls_kernel_next_key(true)) {
            w_.counters().tls_keyupdate_rekey_failed.add(1);
            abort();
            return;
        }
        w_.counters().tls_keyupdate_kernel_tx_rekeyed.add(1);
        if (t.notify_after_ctl) {
            t.notify_after_ctl = false;
            close_graceful();
        } else if (!tls_send_owed_warning()) {
            pump();
        }
        return;
    }
    if (t.notify_in_flight) {
        t.notify_in_flight = false;
        close_graceful();
        return;
    }
    if (res < 0) {
        abort();
        return;
    }
    if (t.notify_after_ctl) {
        t.notify_after_ctl = false;
        t.warnings_owed = 0;  // nothing after close_notify
        close_graceful();
        return;
    }
    // A warning went out: the next one owed, else whatever waited for ctl_op_.
    if (!tls_send_owed_warning()) pump();
}

// Kernel TX: the next no_renegotiation warning that waited for ctl_op_. True if submitted.
bool Conn::tls_send_owed_warning() {
    TlsState& t = *tls_;
    if (t.warnings_owed == 0 || ctl_op_.in_flight()) return false;
    --t.warnings_owed;
    tls_ctl_alert(tls::alert::kLevelWarning, tls::alert::kNoRenegotiation);
    return true;
}

// Kernel TX: one alert record by sendmsg + TLS_SET_RECORD_TYPE (ctl_op_ must be free).
void Conn::tls_ctl_alert(uint8_t level, uint8_t description) {
    tls_->ctl.prepare_alert(level, description);
    w_.ring().sendmsg(ctl_op_, fd_.get(), &tls_->ctl.msg, MSG_NOSIGNAL);
}

// ---- user RX: records opened in memory ----------------------------------------------------

void Conn::tls_on_ciphertext(std::string_view data) {
    TlsState& t = *tls_;
    if (handshaking_) {
        tls_on_handshake_bytes(data);
        return;
    }
    t.opener->feed(data);
    for (;;) {
        auto r = t.opener->next();
        if (!r) {
            tls_fatal(tls::violation_for_errno(r.error().code));
            return;
        }
        if (!*r) break;
        if (!tls_on_record(static_cast<uint8_t>((*r)->type), (*r)->text())) return;
        if (closing_ || t.fatal) return;
    }
    if (!t.plain.empty()) {
        std::string plain;
        plain.swap(t.plain);
        on_bytes(plain);
    }
}

// One decrypted record (user RX, or a kernel RX control record). False: stop reading records.
bool Conn::tls_on_record(uint8_t type, std::string_view data) {
    return tls_apply(tls_->peer->on_record(type, data), data);
}

bool Conn::tls_apply(const tls::RecordAction& a, std::string_view data) {
    TlsState& t = *tls_;
    using Kind = tls::RecordAction::Kind;
    switch (a.kind) {
    case Kind::Deliver:
        t.plain.append(data);
        return true;
    case Kind::Ignore:
        return true;
    case Kind::Warn:
        w_.counters().tls_renegotiations_refused.add(a.warnings);
        for (unsigned i = 0; i < a.warnings; ++i) tls_send_warning(tls::alert::kNoRenegotiation);
        return true;
    case Kind::CloseNotify:
        // close_notify is the TLS end of input: requests received before it are still
        // answered, then ours goes out and the connection closes (RFC 8446 §6.1).
        if (!t.plain.empty()) {
            std::string plain;
            plain.swap(t.plain);
            on_bytes(plain);
        }
        read_eof_ = true;
        if (!closing_ && !busy() && inbuf_.empty()) close_graceful();
        return false;
    case Kind::PeerAlert:
        // RFC 8446 §6.2: after a fatal alert nothing more is read or written.
        w_.counters().tls_peer_alerts.add(1);
        abort();
        return false;
    case Kind::KeyUpdate:
        return tls_on_key_update(a.update_requested);
    case Kind::Fatal:
        tls_fatal(a.violation);
        return false;
    }
    return false;
}

bool Conn::tls_on_key_update(bool update_requested) {
    TlsState& t = *tls_;
    const record::KeyUpdatePlan plan = record::plan_key_update(
        t.rx_kernel, t.tx_kernel, t.kernel_secrets != nullptr, update_requested);
    if (plan.close) {
        w_.counters().tls_keyupdate_closed.add(1);
        close_after_ = true;
        if (t.rx_kernel) {
            // 6.1–6.13 cannot rekey RX: end the connection cleanly instead of failing
            // mid-stream. Records under the new key stay unread (the kernel cannot open them),
            // so the close waits for our send queue to drain instead of reading (Conn::tick).
            linger_on_close_ = true;
            linger_no_read_ = true;
        }
        if (!busy()) close_graceful();
        return false;
    }
    if (plan.rx == record::Rekey::Kernel) {
        // The kernel stopped decrypting after the KeyUpdate record (reads would fail with
        // EKEYEXPIRED); the next read is armed only after this returns.
        if (!tls_kernel_next_key(false)) {
            w_.counters().tls_keyupdate_rekey_failed.add(1);
            finish_close();
            return false;
        }
        w_.counters().tls_keyupdate_kernel_rekeyed.add(1);
    } else if (!t.opener->update_key()) {
        finish_close();
        return false;
    }
    if (plan.tx == record::Rekey::User) {
        // Our KeyUpdate goes out under the old key, then the new one is used.
        const auto msg = record::key_update_message(false);
        (void)t.sealer->seal(record::ContentType::Handshake, std::span<const uint8_t>(msg),
                             t.append_target());
        if (!t.sealer->update_key()) {
            finish_close();
            return false;
        }
        if (!busy()) tls_send_wire();
    } else if (plan.tx == record::Rekey::Kernel && !t.ku_pending) {
        // After the responses already queued (they were asked for under the old keys), before
        // any queued later; one answer for several requests is enough (RFC 8446 §4.6.3).
        t.ku_pending = true;
        t.ku_after = out_.size();
        (void)tls_kernel_key_update_out();
    }
    return true;
}

// Kernel TX: next secret → key/IV → TLS_TX/TLS_RX with sequence 0. Only the secret is kept.
bool Conn::tls_kernel_next_key(bool tx) {
    tls::TrafficKeys& k = *tls_->kernel_secrets;
    tls::DirectionKeys& d = tx ? k.tx : k.rx;
    auto r = record::next_traffic_keys(k.cipher, d);
    if (r) r = tx ? ktls::rekey_tx(fd_.get(), k) : ktls::rekey_rx(fd_.get(), k);
    tls::secure_wipe(d.key, sizeof d.key);
    tls::secure_wipe(d.iv, sizeof d.iv);
    if (!r) w_.ktls_failure(r.error().code);
    return r.has_value();
}

// Sends the KeyUpdate we owe once the responses before it are out and no send is in flight:
// a send submitted between it and the TLS_TX rekey would go out under the old key after it.
// True while it is pending or in flight at this point (the caller must not send).
bool Conn::tls_kernel_key_update_out() {
    TlsState& t = *tls_;
    if (!t.ku_pending) return false;
    if (t.ku_in_flight) return true;
    if (out_pos_ < t.ku_after && out_pos_ < out_.size()) return false;  // earlier bytes first
    if (pipe_fill_ > 0 || send_op_.in_flight() || splice_in_op_.in_flight() ||
        splice_out_op_.in_flight() || poll_op_.in_flight() || ctl_op_.in_flight() ||
        file_read_op_.in_flight())
        return true;  // their completion calls pump(), which comes back here
    set_cork(false);
    const auto msg = record::key_update_message(false);
    if (!t.ctl.prepare(ktls::kHandshake, msg)) {
        w_.counters().tls_keyupdate_rekey_failed.add(1);
        abort();
        return true;
    }
    t.ku_in_flight = true;
    w_.ring().sendmsg(ctl_op_, fd_.get(), &t.ctl.msg, MSG_NOSIGNAL);
    set_deadline(Deadline::Send, w_.config().send_timeout_s);
    return true;
}

// ---- kernel RX: recvmsg with the record-type cmsg -----------------------------------------

bool Conn::tls_arm_recv() {
    if (!tls_) return false;
    TlsState& t = *tls_;
    if (handshaking_) {
        if (t.wire_in_flight || t.handshake_done || t.handshake_failed) return true;
        if (recv_op_.in_flight()) return true;
        // Single-shot reads during the handshake: nothing is read far beyond Finished.
        recv_multishot_ = false;
        if (core::BufferRing* b = w_.buffers()) {
            w_.ring().recv_provided(recv_op_, fd_.get(), *b, false);
        } else {
            if (!rxbuf_) rxbuf_ = std::make_unique<char[]>(kRxBufSize);
            w_.ring().recv(recv_op_, fd_.get(), rxbuf_.get(), kRxBufSize);
        }
        return true;
    }
    if (!t.rx_kernel) return false;  // user RX: the plain recv path, bytes go to the opener
    if (recvmsg_op_.in_flight() || !should_read()) return true;
    if (core::BufferRing* b = w_.buffers()) {
        t.rxmsg.prepare(nullptr, 0);  // the kernel picks a provided buffer
        w_.ring().recvmsg(recvmsg_op_, fd_.get(), &t.rxmsg.msg, b);
    } else {
        if (!rxbuf_) rxbuf_ = std::make_unique<char[]>(kRxBufSize);
        t.rxmsg.prepare(rxbuf_.get(), kRxBufSize);
        w_.ring().recvmsg(recvmsg_op_, fd_.get(), &t.rxmsg.msg, nullptr);
    }
    return true;
}

void Conn::tls_on_recvmsg(int res, uint32_t flags) {
    TlsState& t = *tls_;
    core::BufferRing* b = w_.buffers();
    if (res > 0) {
        const bool provided = core::cqe_buffer(flags) >= 0;
        const auto bid = static_cast<uint16_t>(core::cqe_buffer(flags));
        std::string_view data(provided ? b->buffer(bid) : rxbuf_.get(), static_cast<size_t>(res));
        const uint8_t type = t.rxmsg.record_type().value_or(ktls::kApplicationData);
        bool go_on = true;
        if (type == ktls::kApplicationData && t.peer->mid_message()) {
            // The kernel hands data up without the record view: the interleave check here.
            if (provided) b->recycle(bid);
            tls_fatal(tls::Violation::InterleavedRecord);
            return;
        }
        if (type == ktls::kApplicationData) {
            t.peer->on_application_data();
            on_bytes(data);
        } else {
            go_on = tls_on_record(type, data);
        }
        if (provided) b->recycle(bid);
        if (!go_on || closing_) return;
    } else if (res == 0 && t.rxmsg.record_type().value_or(ktls::kApplicationData) !=
                               ktls::kApplicationData) {
        // An empty control record (a zero-length alert or handshake fragment), not EOF.
        if (core::cqe_buffer(flags) >= 0)
            b->recycle(static_cast<uint16_t>(core::cqe_buffer(flags)));
        if (!tls_on_record(*t.rxmsg.record_type(), {}) || closing_) return;
    } else if (res == 0) {
        read_eof_ = true;
        if (lingering_ || (!busy() && inbuf_.empty())) {
            finish_close();
            return;
        }
    } else if (res == -ENOBUFS) {
        recv_starved_ = true;
        return;
    } else if (res == -EBADMSG || res == -EMSGSIZE || res == -EINVAL) {
        // The kernel's record checks failed (net/tls): the same alert as the user layer.
        tls_fatal(tls::violation_for_errno(-res));
        return;
    } else if (res == -EKEYEXPIRED) {
        // 6.14+ stops reading at a handshake record that begins a KeyUpdate; one split over
        // records cannot be followed there (its tail is under the old key, the kernel wants
        // the new one): it is ours that cannot go on, hence internal_error.
        tls_fatal(tls::Violation::Internal);
        return;
    } else if (res < 0 && res != -ECANCELED) {
        abort();  // ECONNRESET, EIO: the stream is broken
        return;
    }
    update_recv();
}

// ---- user TX: seal output, reading file chunks through the ring ---------------------------

namespace {
// What seal_from_map needs; it runs under base::run_guarded, so it may be abandoned mid-way:
// nothing here owns anything (Sealer::seal resizes `wire` before it reads the source).
struct SealArgs {
    record::Sealer* sealer;
    const char* src;
    size_t n;
    std::string* wire;
    bool ok;
};

void seal_from_map(void* p) {
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
Conn::MapSeal Conn::tls_seal_from_map(OutSeg& s, size_t n) {
    const files::Variant* v = s.file;
    if (v == nullptr || n == 0) return MapSeal::Cold;
    if (!v->map && !v->map_tried) {
        v->map_tried = true;
        if (auto m = files::Mapping::create(v->fd.get(), static_cast<size_t>(v->st.st_size)))
            v->map = std::move(*m);
    }
    if (!v->map || !v->map.resident(s.file_off, n)) return MapSeal::Cold;
    const char* src = v->map.data() + s.file_off;
    SealArgs a{tls_->sealer.get(), src, n, &tls_->wire, false};
    if (!base::run_guarded(src, n, seal_from_map, &a)) {
        w_.counters().tls_body_truncated.add(1);
        v->map = files::Mapping();  // map_tried stays set: no new mapping for this entry
        abort();
        return MapSeal::Failed;
    }
    if (!a.ok) {
        abort();
        return MapSeal::Failed;
    }
    file_sealed(s, n, true);
    return MapSeal::Sealed;
}

void Conn::tls_pump_sealed() {
    TlsState& t = *tls_;
    if (t.wire_in_flight || file_read_op_.in_flight()) return;
    if (t.wire_off < t.wire.size()) {
        tls_send_wire();
        return;
    }
    t.wire.clear();
    t.wire_off = 0;
    size_t sealed = 0;
    while (out_pos_ < out_.size() && sealed < kSealChunk) {
        OutSeg& s = out_[out_pos_];
        if (s.len == 0) {
            s.hold.reset();
            ++out_pos_;
            flush_logs();
            continue;
        }
        if (s.fd >= 0) {
            const auto want = static_cast<size_t>(std::min<uint64_t>(s.len, kSealChunk - sealed));
            const MapSeal m = tls_seal_from_map(s, want);
            if (m == MapSeal::Failed) return;  // aborted
            if (m == MapSeal::Sealed) {
                sealed += want;
                continue;
            }
            if (sealed > 0) break;  // send what is sealed first
            if (!t.filebuf) t.filebuf = std::make_unique<char[]>(kReadChunk);
            const auto n = static_cast<unsigned>(std::min<uint64_t>(s.len, kReadChunk));
            w_.ring().read(file_read_op_, s.fd, t.filebuf.get(), n, s.file_off);
            set_deadline(Deadline::Send, w_.config().send_timeout_s);
            return;
        }
        const char* p = s.ext ? s.ext : outbuf_.data() + s.off;
        const size_t n = static_cast<size_t>(std::min<uint64_t>(s.len, kSealChunk - sealed));
        if (!t.sealer->seal(record::ContentType::ApplicationData, std::string_view(p, n), t.wire)) {
            abort();
            return;
        }
        w_.counters().tls_bytes_sealed.add(n);
        sealed += n;
        advance_sent(n);
    }
    if (!t.wire.empty()) {
        tls_send_wire();
        return;
    }
    t.filebuf.reset();
    if (t.wire.capacity() > kKeepWireBytes) std::string().swap(t.wire);  // idle: small
    if (!out_.empty())
        responses_done();
    else
        go_idle();
}

void Conn::tls_on_file_read(int res) {
    TlsState& t = *tls_;
    if (t.fatal) {
        tls_fatal_progress();
        return;
    }
    if (res <= 0) {
        abort();  // read error or the file shrank below the promised length
        return;
    }
    OutSeg& s = out_[out_pos_];
    const auto n = static_cast<size_t>(res);
    if (!t.sealer->seal(record::ContentType::ApplicationData,
                        std::string_view(t.filebuf.get(), n), t.wire)) {
        abort();
        return;
    }
    file_sealed(s, n, false);
    tls_send_wire();
}

void Conn::file_sealed(OutSeg& s, size_t n, bool mapped) {
    w_.counters().tls_bytes_sealed.add(n);
    if (mapped) w_.counters().tls_bytes_sealed_mapped.add(n);
    s.file_off += n;
    s.len -= std::min<uint64_t>(s.len, n);
}

}  // namespace sluice::server
