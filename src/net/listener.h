// net/listener.h — listening sockets, one per worker per address.
// Every listener is opened with SO_REUSEPORT so each worker owns its own accept queue and the
// kernel spreads connections across workers; sockets are blocking because io_uring does the
// waiting. IPv6 listeners are IPV6_V6ONLY so "[::]:80" and "*:80" can be used together.
#pragma once

#include "base/addr.h"
#include "base/fd.h"
#include "base/result.h"

namespace sluice::net {

// socket(SOCK_STREAM|SOCK_CLOEXEC) + SO_REUSEADDR + SO_REUSEPORT (+ IPV6_V6ONLY) + bind +
// listen(backlog). Fails with the errno of the failing step (EADDRINUSE when the port is held
// by a socket without SO_REUSEPORT or owned by another user).
// defer_accept_s > 0: TCP_DEFER_ACCEPT, the kernel holds a connection until data arrives (or
// about that many seconds pass) before it is accepted.
Result<UniqueFd> listen_reuseport(const SocketAddr& addr, int backlog, int defer_accept_s = 0);
// The same without SO_REUSEPORT: one socket for the whole process (the metrics listener).
Result<UniqueFd> listen_exclusive(const SocketAddr& addr, int backlog);
Result<UniqueFd> listen_on(const SocketAddr& addr, int backlog, bool reuseport,
                           int defer_accept_s);

// Per-connection socket options for an accepted fd: TCP_NODELAY, since responses are written
// in whole pieces and Nagle would only delay the last segment. Failures are ignored (the
// connection still works, only slower).
void tune_accepted_socket(int fd);

// getsockname(2); useful after binding port 0 and for logging the bound address.
Result<SocketAddr> local_addr(int fd);

}  // namespace sluice::net
