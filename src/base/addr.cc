#include "base/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstdio>
#include <cstring>

namespace sluice {

namespace {

std::unexpected<std::string> addr_error(std::string_view text, std::string_view why) {
    // The input is echoed with control bytes escaped so the message stays a single line.
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string msg = "'";
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c >= 0x7f) {
            const char esc[4] = {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]};
            msg.append(esc, sizeof esc);
        } else {
            msg.push_back(ch);
        }
    }
    msg.append("': ");
    msg.append(why);
    return std::unexpected(std::move(msg));
}

bool parse_port(std::string_view s, uint16_t& port) {
    if (s.empty() || s.size() > 5) return false;
    unsigned value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size()) return false;
    if (value < 1 || value > 65535) return false;
    port = static_cast<uint16_t>(value);
    return true;
}

}  // namespace

std::expected<SocketAddr, std::string> parse_socket_addr(std::string_view text) {
    std::string_view host;
    std::string_view port_text;
    bool bracketed = false;
    if (text.starts_with('[')) {
        size_t close = text.find(']');
        if (close == std::string_view::npos) return addr_error(text, "missing ']'");
        host = text.substr(1, close - 1);
        std::string_view rest = text.substr(close + 1);
        if (rest.empty()) return addr_error(text, "missing port (expected [IPV6]:PORT)");
        if (rest[0] != ':') return addr_error(text, "expected ':' after ']'");
        port_text = rest.substr(1);
        bracketed = true;
    } else {
        size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            return addr_error(text, "missing port (expected ADDR:PORT)");
        }
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) {
            return addr_error(text, "IPv6 addresses must be in brackets, e.g. [::1]:8080");
        }
    }

    uint16_t port = 0;
    if (!parse_port(port_text, port)) {
        return addr_error(text, "port must be an integer 1..65535");
    }
    if (host.empty()) return addr_error(text, "missing host (use '*' for all IPv4 addresses)");

    // inet_pton needs a NUL-terminated string; hosts are short, so a stack copy suffices.
    char buf[INET6_ADDRSTRLEN + 1];
    if (host.size() >= sizeof buf) return addr_error(text, "host is not a numeric IP address");
    std::memcpy(buf, host.data(), host.size());
    buf[host.size()] = '\0';

    SocketAddr out;
    if (bracketed) {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.ss);
        if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1) {
            return addr_error(text, "invalid IPv6 address");
        }
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        out.len = sizeof(sockaddr_in6);
        return out;
    }

    auto* sin = reinterpret_cast<sockaddr_in*>(&out.ss);
    if (host == "*") {
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (inet_pton(AF_INET, buf, &sin->sin_addr) != 1) {
        return addr_error(text, "host must be a numeric IPv4 address, [IPv6] or '*' "
                                "(host names are not resolved)");
    }
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    out.len = sizeof(sockaddr_in);
    return out;
}

size_t format_ip(const sockaddr* sa, char* out, size_t cap) {
    if (cap == 0) return 0;
    char buf[INET6_ADDRSTRLEN];
    const char* text = nullptr;
    if (sa != nullptr && sa->sa_family == AF_INET) {
        text = inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf,
                         sizeof buf);
    } else if (sa != nullptr && sa->sa_family == AF_INET6) {
        text = inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf,
                         sizeof buf);
    }
    if (text == nullptr) text = "?";
    size_t n = std::strlen(text);
    if (n >= cap) n = cap - 1;
    std::memcpy(out, text, n);
    out[n] = '\0';
    return n;
}

std::string format_ip(const sockaddr* sa) {
    char buf[kMaxAddrText];
    size_t n = format_ip(sa, buf, sizeof buf);
    return std::string(buf, n);
}

std::string format_socket_addr(const sockaddr* sa) {
    if (sa == nullptr || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)) return "?";
    char ip[kMaxAddrText];
    size_t n = format_ip(sa, ip, sizeof ip);
    uint16_t port = sa->sa_family == AF_INET
                        ? ntohs(reinterpret_cast<const sockaddr_in*>(sa)->sin_port)
                        : ntohs(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port);
    std::string out;
    out.reserve(n + 8);
    if (sa->sa_family == AF_INET6) out.push_back('[');
    out.append(ip, n);
    if (sa->sa_family == AF_INET6) out.push_back(']');
    out.push_back(':');
    out.append(std::to_string(port));
    return out;
}

}  // namespace sluice
