// base/addr.h — socket address parsing and formatting for listen flags and logs.
// Parsing is numeric only (never DNS): "1.2.3.4:80", "[::1]:8080", "[::]:80", "*:80".
// Formatting never allocates in the buffer variant, so access logs can use it per request.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>

namespace sluice {

struct SocketAddr {
    sockaddr_storage ss{};
    socklen_t len = 0;

    [[nodiscard]] const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&ss); }
    [[nodiscard]] int family() const { return ss.ss_family; }
};

// Large enough for "[ffff:ffff:ffff:ffff:ffff:255.255.255.255%interface]:65535".
inline constexpr size_t kMaxAddrText = 80;

// Error string is one human-readable line (no trailing newline) quoting the input.
std::expected<SocketAddr, std::string> parse_socket_addr(std::string_view text);

// "1.2.3.4:5" or "[::1]:5"; "?" for an unsupported family or null.
std::string format_socket_addr(const sockaddr* sa);

// IP only, no port and no brackets: "1.2.3.4" / "::1"; "?" if unsupported.
std::string format_ip(const sockaddr* sa);

// Same as format_ip, writing a NUL-terminated string into `out`; returns the length written
// excluding the NUL (0 if cap is 0). Truncates if cap is too small (kMaxAddrText always fits).
size_t format_ip(const sockaddr* sa, char* out, size_t cap);

}  // namespace sluice
