#include "server/conn.h"

#include <sys/socket.h>

#include "base/addr.h"

namespace sluice::server {

Conn::Conn(const ConnEnv& env)
    : env_(env),
      queue_(env.pool),
      plain_(env.transport, queue_, *this),
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
        transport_ = &plain_;
    }
    transport_->attach(fd);
    transport_->start();
    transport_->settle();
}

// ---- transport → session -------------------------------------------------------------------

void Conn::on_ready(const Ready& r) {
    tls_tag_.assign(r.log_tag);
    h1_.reset();
    session_ = &h1_;
    if (shutdown_requested_) session_->begin_shutdown();
}

void Conn::on_data(std::string_view plaintext) {
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

// ---- worker --------------------------------------------------------------------------------

void Conn::tick(uint64_t now_ms) {
    if (!active_) return;
    transport_->tick(now_ms);
    if (session_ && !transport_->closing()) session_->tick(now_ms);
    transport_->settle();
}

void Conn::begin_shutdown() {
    if (!active_ || transport_->closing()) return;
    shutdown_requested_ = true;
    if (session_)
        session_->begin_shutdown();
    else
        transport_->abort();  // still handshaking: nothing was asked yet
    transport_->settle();
}

void Conn::abort() {
    if (!active_) return;
    transport_->abort();
    transport_->settle();
}

}  // namespace sluice::server
