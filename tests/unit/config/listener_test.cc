#include "net/listener.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace sluice::net {
namespace {

SocketAddr addr(const char* text) {
    auto a = parse_socket_addr(text);
    EXPECT_TRUE(a.has_value()) << text;
    return a ? *a : SocketAddr{};
}

uint16_t port_of(const SocketAddr& a) {
    return a.family() == AF_INET ? ntohs(reinterpret_cast<const sockaddr_in*>(&a.ss)->sin_port)
                                 : ntohs(reinterpret_cast<const sockaddr_in6*>(&a.ss)->sin6_port);
}

SocketAddr with_port(const char* host, uint16_t port) {
    return addr((std::string(host) + ":" + std::to_string(port)).c_str());
}

// Binds an ephemeral port via the code under test and returns the port number.
uint16_t ephemeral_port(UniqueFd& keep) {
    SocketAddr any{};
    auto* sin = reinterpret_cast<sockaddr_in*>(&any.ss);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin->sin_port = 0;
    any.len = sizeof(sockaddr_in);
    auto l = listen_reuseport(any, 16);
    EXPECT_TRUE(l.has_value()) << (l ? "" : l.error().message());
    if (!l) return 0;
    auto local = local_addr(l->get());
    EXPECT_TRUE(local.has_value());
    keep = std::move(*l);
    return local ? port_of(*local) : 0;
}

int get_int_opt(int fd, int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    EXPECT_EQ(::getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

TEST(Listener, TwoReuseportSocketsShareAPort) {
    UniqueFd first;
    uint16_t port = ephemeral_port(first);
    ASSERT_NE(port, 0);
    auto second = listen_reuseport(with_port("127.0.0.1", port), 16);
    ASSERT_TRUE(second.has_value()) << second.error().message();
    EXPECT_EQ(get_int_opt(second->get(), SOL_SOCKET, SO_REUSEPORT), 1);
    EXPECT_EQ(get_int_opt(second->get(), SOL_SOCKET, SO_REUSEADDR), 1);
    EXPECT_EQ(get_int_opt(second->get(), SOL_SOCKET, SO_ACCEPTCONN), 1);
    EXPECT_NE(::fcntl(second->get(), F_GETFD) & FD_CLOEXEC, 0);

    auto local = local_addr(second->get());
    ASSERT_TRUE(local.has_value());
    EXPECT_EQ(format_socket_addr(local->get()), "127.0.0.1:" + std::to_string(port));

    // A client connection lands in one of the two accept queues.
    UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    SocketAddr target = with_port("127.0.0.1", port);
    ASSERT_EQ(::connect(client.get(), target.get(), target.len), 0);
    pollfd pfds[2] = {{first.get(), POLLIN, 0}, {second->get(), POLLIN, 0}};
    ASSERT_EQ(::poll(pfds, 2, 2000), 1);
    int ready = (pfds[0].revents & POLLIN) ? first.get() : second->get();
    UniqueFd accepted(::accept4(ready, nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(accepted.valid());

    EXPECT_EQ(get_int_opt(accepted.get(), IPPROTO_TCP, TCP_NODELAY), 0);
    tune_accepted_socket(accepted.get());
    EXPECT_NE(get_int_opt(accepted.get(), IPPROTO_TCP, TCP_NODELAY), 0);
}

TEST(Listener, PlainSocketOnPortCausesAddrInUse) {
    UniqueFd plain(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(plain.valid());
    SocketAddr any = addr("127.0.0.1:1");
    reinterpret_cast<sockaddr_in*>(&any.ss)->sin_port = 0;
    ASSERT_EQ(::bind(plain.get(), any.get(), any.len), 0);
    ASSERT_EQ(::listen(plain.get(), 4), 0);
    auto local = local_addr(plain.get());
    ASSERT_TRUE(local.has_value());

    auto l = listen_reuseport(*local, 16);
    ASSERT_FALSE(l.has_value());
    EXPECT_EQ(l.error().code, EADDRINUSE);
}

TEST(Listener, Ipv6IsV6OnlySoWildcardsCoexist) {
    UniqueFd v4;
    uint16_t port = ephemeral_port(v4);
    ASSERT_NE(port, 0);
    auto v6 = listen_reuseport(with_port("[::1]", port), 16);
    if (!v6 && (v6.error().code == EADDRNOTAVAIL || v6.error().code == EAFNOSUPPORT)) {
        GTEST_SKIP() << "no IPv6 loopback here";
    }
    ASSERT_TRUE(v6.has_value()) << v6.error().message();
    EXPECT_EQ(get_int_opt(v6->get(), IPPROTO_IPV6, IPV6_V6ONLY), 1);
    auto local = local_addr(v6->get());
    ASSERT_TRUE(local.has_value());
    EXPECT_EQ(format_socket_addr(local->get()), "[::1]:" + std::to_string(port));
}

TEST(Listener, Errors) {
    SocketAddr empty{};
    auto l = listen_reuseport(empty, 16);
    ASSERT_FALSE(l.has_value());
    EXPECT_EQ(l.error().code, EAFNOSUPPORT);

    auto la = local_addr(-1);
    ASSERT_FALSE(la.has_value());
    EXPECT_EQ(la.error().code, EBADF);
}

}  // namespace
}  // namespace sluice::net
