#include "net/listener.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace sluice::net {

namespace {

bool set_int_opt(int fd, int level, int name, int value) {
    return ::setsockopt(fd, level, name, &value, sizeof value) == 0;
}

}  // namespace

Result<UniqueFd> listen_reuseport(const SocketAddr& addr, int backlog, int defer_accept_s) {
    return listen_on(addr, backlog, true, defer_accept_s);
}

Result<UniqueFd> listen_exclusive(const SocketAddr& addr, int backlog) {
    return listen_on(addr, backlog, false, 0);
}

Result<UniqueFd> listen_on(const SocketAddr& addr, int backlog, bool reuseport,
                           int defer_accept_s) {
    int family = addr.family();
    if ((family != AF_INET && family != AF_INET6) || addr.len == 0) return fail(EAFNOSUPPORT);

    UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return fail_errno();
    // SO_REUSEADDR lets a restarted server bind while old connections sit in TIME_WAIT.
    if (!set_int_opt(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1)) return fail_errno();
    if (reuseport && !set_int_opt(fd.get(), SOL_SOCKET, SO_REUSEPORT, 1)) return fail_errno();
    if (family == AF_INET6 && !set_int_opt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 1)) {
        return fail_errno();
    }
    // A connection is accepted when its first bytes arrive, so accept and request reach the
    // ring together. Best effort: without it, connections are accepted as usual.
    if (defer_accept_s > 0)
        (void)set_int_opt(fd.get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, defer_accept_s);
    if (::bind(fd.get(), addr.get(), addr.len) != 0) return fail_errno();
    if (::listen(fd.get(), backlog) != 0) return fail_errno();
    return fd;
}

void tune_accepted_socket(int fd) {
    int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

Result<SocketAddr> local_addr(int fd) {
    SocketAddr out;
    out.len = sizeof out.ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&out.ss), &out.len) != 0) {
        return fail_errno();
    }
    return out;
}

}  // namespace sluice::net
