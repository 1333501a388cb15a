#include "server/metrics.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>

#include "http/parser.h"
#include "http/request.h"
#include "http/response.h"
#include "net/listener.h"
#include "obs/counters.h"

namespace sluice::server {

namespace {

constexpr int kBacklog = 64;
constexpr size_t kMaxRequest = 8 * 1024;  // a scrape's request is a few hundred bytes

void set_timeouts(int fd) {
    const timeval tv{2, 0};
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void send_all(int fd, std::string_view s) {
    while (!s.empty()) {
        const ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        s.remove_prefix(static_cast<size_t>(n));
    }
}

std::string response(int status, std::string_view type, std::string_view body, bool head,
                     std::string_view extra = {}) {
    std::string r = "HTTP/1.1 " + std::to_string(status) + " ";
    r += http::status_reason(status);
    r += "\r\n";
    r += "Content-Type: ";
    r += type;
    r += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    r += "Cache-Control: no-store\r\nConnection: close\r\n";
    r += extra;
    r += "\r\n";
    if (!head) r += body;
    return r;
}

}  // namespace

Result<std::unique_ptr<Metrics>> Metrics::listen(const SocketAddr& addr) {
    auto fd = net::listen_exclusive(addr, kBacklog);
    if (!fd) return std::unexpected(fd.error());
    UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
    if (!stop) return fail_errno();
    auto m = std::unique_ptr<Metrics>(new Metrics(std::move(*fd), std::move(stop)));
    m->addr_ = net::local_addr(m->listen_fd_.get()).value_or(addr);
    return m;
}

Metrics::Metrics(UniqueFd listen_fd, UniqueFd stop_fd)
    : listen_fd_(std::move(listen_fd)), stop_fd_(std::move(stop_fd)) {}

Metrics::~Metrics() {
    if (thread_.joinable()) {
        const uint64_t one = 1;
        (void)!::write(stop_fd_.get(), &one, sizeof one);
        thread_.join();
    }
}

void Metrics::start(std::vector<const obs::WorkerCounters*> views) {
    views_ = std::move(views);
    thread_ = std::thread([this] { run(); });
}

void Metrics::run() {
    for (;;) {
        pollfd p[2] = {{listen_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (p[1].revents != 0) return;
        if ((p[0].revents & POLLIN) == 0) continue;
        UniqueFd c(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!c) continue;  // ECONNABORTED, EMFILE: the next scrape tries again
        set_timeouts(c.get());
        serve(c.get());
    }
}

void Metrics::serve(int fd) {
    http::RequestParser parser(http::ParserLimits{2 * 1024, 6 * 1024, 0});
    http::Request req;
    std::string buf;
    char chunk[2048];
    http::ParseOutcome out;
    size_t fed = 0;
    while (buf.size() < kMaxRequest) {
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // timeout, reset or EOF before a whole request: nothing to answer
        buf.append(chunk, static_cast<size_t>(n));
        out = parser.feed(std::string_view(buf).substr(fed), req);
        fed += out.consumed;
        if (out.status != http::ParseStatus::NeedMore) break;
    }
    if (out.status == http::ParseStatus::NeedMore) {
        send_all(fd, response(431, "text/plain", "too large\n",
                              false));
        return;
    }
    if (out.status == http::ParseStatus::Error) {
        send_all(fd, response(out.error_status, "text/plain", "bad request\n",
                              false));
        return;
    }
    const bool head = req.method == http::Method::Head;
    if (req.method != http::Method::Get && !head) {
        send_all(fd, response(405, "text/plain", "GET or HEAD\n", false,
                              "Allow: GET, HEAD\r\n"));
        return;
    }
    std::string_view path = req.path();
    path = path.substr(0, path.find('?'));
    if (path == "/metrics") {
        const std::string text = obs::render_prometheus(views_);
        send_all(fd, response(200, "text/plain; version=0.0.4; charset=utf-8", text, head));
    } else if (path == "/health") {
        if (draining_.load(std::memory_order_relaxed))
            send_all(fd, response(503, "text/plain", "draining\n", head));
        else
            send_all(fd, response(200, "text/plain", "ok\n", head));
    } else {
        send_all(fd, response(404, "text/plain", "/metrics or /health\n", head));
    }
}

}  // namespace sluice::server
