#include "base/addr.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>

namespace sluice {
namespace {

TEST(ParseSocketAddr, Ipv4) {
    auto a = parse_socket_addr("1.2.3.4:80");
    ASSERT_TRUE(a.has_value()) << a.error();
    ASSERT_EQ(a->family(), AF_INET);
    EXPECT_EQ(a->len, sizeof(sockaddr_in));
    auto* sin = reinterpret_cast<const sockaddr_in*>(&a->ss);
    EXPECT_EQ(ntohs(sin->sin_port), 80);
    EXPECT_EQ(ntohl(sin->sin_addr.s_addr), 0x01020304u);
}

TEST(ParseSocketAddr, StarIsIpv4Any) {
    auto a = parse_socket_addr("*:80");
    ASSERT_TRUE(a.has_value()) << a.error();
    ASSERT_EQ(a->family(), AF_INET);
    auto* sin = reinterpret_cast<const sockaddr_in*>(&a->ss);
    EXPECT_EQ(sin->sin_addr.s_addr, htonl(INADDR_ANY));
    EXPECT_EQ(ntohs(sin->sin_port), 80);
}

TEST(ParseSocketAddr, Ipv6Brackets) {
    auto a = parse_socket_addr("[::1]:8080");
    ASSERT_TRUE(a.has_value()) << a.error();
    ASSERT_EQ(a->family(), AF_INET6);
    EXPECT_EQ(a->len, sizeof(sockaddr_in6));
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&a->ss);
    EXPECT_EQ(ntohs(sin6->sin6_port), 8080);
    EXPECT_EQ(std::memcmp(&sin6->sin6_addr, &in6addr_loopback, sizeof(in6_addr)), 0);

    auto any = parse_socket_addr("[::]:80");
    ASSERT_TRUE(any.has_value()) << any.error();
    auto* any6 = reinterpret_cast<const sockaddr_in6*>(&any->ss);
    EXPECT_EQ(std::memcmp(&any6->sin6_addr, &in6addr_any, sizeof(in6_addr)), 0);
}

TEST(ParseSocketAddr, PortBounds) {
    EXPECT_TRUE(parse_socket_addr("1.2.3.4:1").has_value());
    EXPECT_TRUE(parse_socket_addr("1.2.3.4:65535").has_value());
    for (const char* bad : {"1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:+80",
                            "1.2.3.4:8a", "1.2.3.4:", "[::1]:99999", "1.2.3.4:000080"}) {
        auto a = parse_socket_addr(bad);
        ASSERT_FALSE(a.has_value()) << bad;
        EXPECT_EQ(a.error(), std::string("'") + bad + "': port must be an integer 1..65535");
    }
}

TEST(ParseSocketAddr, MissingPort) {
    auto a = parse_socket_addr("1.2.3.4");
    ASSERT_FALSE(a.has_value());
    EXPECT_EQ(a.error(), "'1.2.3.4': missing port (expected ADDR:PORT)");
    auto b = parse_socket_addr("[::1]");
    ASSERT_FALSE(b.has_value());
    EXPECT_EQ(b.error(), "'[::1]': missing port (expected [IPV6]:PORT)");
}

TEST(ParseSocketAddr, RejectsHostNamesAndMalformed) {
    auto a = parse_socket_addr("localhost:80");
    ASSERT_FALSE(a.has_value());
    EXPECT_NE(a.error().find("not resolved"), std::string::npos) << a.error();
    for (const char* bad : {"::1:80", "[::1:80", "[::1]80", "[1.2.3.4]:80", "1.2.3:80",
                            "256.1.1.1:80", ":80", "[]:80", "[zz::1]:80", ""}) {
        EXPECT_FALSE(parse_socket_addr(bad).has_value()) << bad;
    }
}

TEST(FormatSocketAddr, RoundTrips) {
    for (const char* text : {"1.2.3.4:5", "0.0.0.0:80", "[::1]:5", "[::]:65535",
                             "[2001:db8::7]:443"}) {
        auto a = parse_socket_addr(text);
        ASSERT_TRUE(a.has_value()) << text;
        EXPECT_EQ(format_socket_addr(a->get()), text);
    }
}

TEST(FormatSocketAddr, UnknownFamily) {
    sockaddr_storage ss{};
    ss.ss_family = AF_UNIX;
    EXPECT_EQ(format_socket_addr(reinterpret_cast<sockaddr*>(&ss)), "?");
    EXPECT_EQ(format_socket_addr(nullptr), "?");
    EXPECT_EQ(format_ip(reinterpret_cast<sockaddr*>(&ss)), "?");
}

TEST(FormatIp, StringAndBuffer) {
    auto v4 = parse_socket_addr("10.0.0.255:9");
    auto v6 = parse_socket_addr("[fe80::1]:9");
    ASSERT_TRUE(v4 && v6);
    EXPECT_EQ(format_ip(v4->get()), "10.0.0.255");
    EXPECT_EQ(format_ip(v6->get()), "fe80::1");

    char buf[kMaxAddrText];
    EXPECT_EQ(format_ip(v4->get(), buf, sizeof buf), 10u);
    EXPECT_STREQ(buf, "10.0.0.255");

    char small[5];
    EXPECT_EQ(format_ip(v4->get(), small, sizeof small), 4u);
    EXPECT_STREQ(small, "10.0");
    EXPECT_EQ(format_ip(v4->get(), small, 0), 0u);
}

}  // namespace
}  // namespace sluice
