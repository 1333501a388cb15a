#include "server/conn.h"

#include <sys/socket.h>

#include "base/addr.h"
#include "obs/counters.h"

namespace sluice::server {

Conn::Conn(const ConnEnv& env)
    : env_(env),
      queue_(env.pool),
      h1_(env.session, *this) {}

Conn::~Conn() = default;

void Conn::start(int fd, uint64_t id, tls::Context* tls) {
    id_ = id;
    active_ = true;
    closed_ = false;
    shutdown_requested_ = false;
    session_ = nullptr;
    tls_tag_.clear();
    peer_ip_.clear();
    if (env_.log_peer) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
            char buf[64];
            size_t n = format_ip(reinterpret_cast<sockaddr*>(&ss), buf, sizeof buf);
            peer_ip_.assign(buf, n);
        }
    }
    if (tls) {
        if (!tls_) tls_ = std::make_unique<transport::TlsSocket>(env_.transport, queue_, *this);
        tls_->use(*tls);
        transport_ = tls_.get();
    } else {
        if (!plain_) plain_ = std::make_unique<transport::Socket>(env_.transport, queue_, *this);
        transport_ = plain_.get();
    }
    transport_->attach(fd);
    transport_->start();
    transport_->settle();
}

// ---- transport → session -------------------------------------------------------------------

namespace {
constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
}

void Conn::on_ready(const Ready& r) {
    tls_tag_.assign(r.log_tag);
    if (r.alpn == "h2") {
        start_h2();
    } else if (transport_ == plain_.get() && env_.h2c) {
        sniffing_ = true;
        sniffed_.clear();
        sniff_deadline_ms_ =
            *env_.session.now_ms + static_cast<uint64_t>(env_.session.header_timeout_s * 1000.0);
    } else {
        start_h1();
    }
}

void Conn::start_h1() {
    h1_.reset();
    session_ = &h1_;
    if (shutdown_requested_) session_->begin_shutdown();
}

void Conn::start_h2() {
    if (!h2_) h2_ = std::make_unique<session::H2>(env_.session, *this);
    env_.session.counters->h2_connections.add(1);
    session_ = h2_.get();
    if (!h2_->reset()) {
        transport_->abort();
        return;
    }
    if (shutdown_requested_) session_->begin_shutdown();
}

// RFC 9113 §3.3: prior knowledge starts with the preface. Anything else is HTTP/1, decided at
// the first byte that differs, so an HTTP/1 request waits for nothing.
void Conn::sniff(std::string_view data) {
    const size_t have = sniffed_.size();
    const size_t n = std::min(kH2Preface.size() - have, data.size());
    const bool match = data.substr(0, n) == kH2Preface.substr(have, n);
    if (match && have + n < kH2Preface.size()) {
        sniffed_.append(data);
        return;
    }
    sniffing_ = false;
    std::string first;
    first.swap(sniffed_);
    if (match) {
        start_h2();
    } else {
        start_h1();
    }
    if (!session_) return;
    if (!first.empty()) session_->feed(first);
    if (session_ && !transport_->closing()) session_->feed(data);
}

void Conn::on_data(std::string_view plaintext) {
    if (sniffing_) {
        sniff(plaintext);
        return;
    }
    if (session_) session_->feed(plaintext);
}

void Conn::on_eof() {
    if (session_) {
        session_->on_eof();
    } else {
        transport_->abort();
    }
}

void Conn::on_sent(bool drained) {
    if (session_) session_->on_sent(drained);
}

void Conn::on_closed() {
    if (closed_) return;
    closed_ = true;
    if (session_) session_->on_closed();
}

void Conn::on_released() {
    if (session_ == &h1_) h1_.release();
    if (h2_ && session_ == h2_.get()) h2_->release();
    sniffing_ = false;
    std::string().swap(sniffed_);
    session_ = nullptr;
    queue_.clear();
    active_ = false;
    env_.owner->conn_released(this);
}

// ---- session → transport -------------------------------------------------------------------

void Conn::flush() { transport_->flush(); }

void Conn::set_input(session::Input in) {
    using session::Input;
    transport_->set_input(in == Input::Stop   ? transport::Input::Stop
                          : in == Input::Park ? transport::Input::Park
                                              : transport::Input::Want);
}

void Conn::close(bool linger, bool unread_input) { transport_->close({linger, unread_input}); }

void Conn::close_now() { transport_->abort(); }

bool Conn::seals_output() const { return tls_ && transport_ == tls_.get() && tls_->seals(); }

// ---- worker --------------------------------------------------------------------------------

void Conn::tick(uint64_t now_ms) {
    if (!active_) return;
    transport_->tick(now_ms);
    if (session_ && !transport_->closing()) session_->tick(now_ms);
    if (sniffing_ && now_ms >= sniff_deadline_ms_ && !transport_->closing()) {
        env_.session.counters->timeouts_header.add(1);
        transport_->abort();
    }
    transport_->settle();
}

void Conn::begin_shutdown() {
    if (!active_ || transport_->closing()) return;
    shutdown_requested_ = true;
    if (session_)
        session_->begin_shutdown();
    else
        transport_->abort();  // still handshaking or sniffing: nothing was asked yet
    transport_->settle();
}

void Conn::abort() {
    if (!active_) return;
    transport_->abort();
    transport_->settle();
}

}  // namespace sluice::server
