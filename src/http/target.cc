// http/target.cc — request-target forms and Host syntax.
#include "http/target.h"

namespace sluice::http {
namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_unreserved(char c) {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
// RFC 3986 sub-delims without ',': a comma in Host is what a proxy that joined two Host lines
// sends, and RFC 9110 §7.2 wants 400 for more than one Host.
bool is_sub_delim_no_comma(char c) {
    switch (c) {
        case '!': case '$': case '&': case '\'': case '(': case ')': case '*': case '+':
        case ';': case '=':
            return true;
        default:
            return false;
    }
}

bool ieq_ascii(std::string_view a, std::string_view lower) {
    if (a.size() != lower.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != lower[i]) return false;
    }
    return true;
}

// reg-name / IPv4address (one is a subset of the other): non-empty.
bool valid_reg_name(std::string_view s) {
    if (s.empty()) return false;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (is_unreserved(c) || is_sub_delim_no_comma(c)) continue;
        if (c == '%' && i + 2 < s.size() && is_hex(s[i + 1]) && is_hex(s[i + 2])) {
            i += 2;
            continue;
        }
        return false;
    }
    return true;
}

// The inside of "[...]": IPv6address (hex digits, ':' and a dotted IPv4 tail) or IPvFuture
// ("v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )). The characters are checked, not the
// address: the host selects nothing here, it only has to be unambiguous.
bool valid_ip_literal(std::string_view s) {
    if (s.empty()) return false;
    if (s[0] == 'v' || s[0] == 'V') {
        size_t i = 1;
        while (i < s.size() && is_hex(s[i])) ++i;
        if (i == 1 || i >= s.size() || s[i] != '.' || i + 1 == s.size()) return false;
        for (++i; i < s.size(); ++i) {
            if (!is_unreserved(s[i]) && !is_sub_delim_no_comma(s[i]) && s[i] != ':') return false;
        }
        return true;
    }
    bool colon = false;
    for (char c : s) {
        if (c == ':') {
            colon = true;
        } else if (!is_hex(c) && c != '.') {
            return false;
        }
    }
    return colon;
}

}  // namespace

bool valid_host(std::string_view value, bool require_port) {
    size_t host_end = 0;
    if (!value.empty() && value[0] == '[') {
        host_end = value.find(']');
        if (host_end == std::string_view::npos) return false;
        if (!valid_ip_literal(value.substr(1, host_end - 1))) return false;
        ++host_end;
    } else {
        host_end = value.find(':');
        if (host_end == std::string_view::npos) host_end = value.size();
        if (!valid_reg_name(value.substr(0, host_end))) return false;
    }
    std::string_view rest = value.substr(host_end);
    if (rest.empty()) return !require_port;
    if (rest[0] != ':') return false;
    rest.remove_prefix(1);
    // port = *DIGIT; more than five digits is no port any stack can use.
    if (rest.size() > 5 || (require_port && rest.empty())) return false;
    for (char c : rest) {
        if (!is_digit(c)) return false;
    }
    return true;
}

std::optional<TargetParts> split_target(std::string_view target, bool connect) {
    TargetParts out;
    if (connect) {
        // RFC 9112 §3.2.3: CONNECT takes authority-form (uri-host ":" port), nothing else.
        if (!valid_host(target, true)) return std::nullopt;
        out.form = TargetForm::Authority;
        out.authority = target;
        return out;
    }
    if (!target.empty() && target[0] == '/') {
        out.path = target;
        return out;
    }
    if (target == "*") {
        out.form = TargetForm::Asterisk;
        return out;
    }
    // absolute-form: scheme "://" authority path-abempty [ "?" query ]. Only the schemes this
    // server is an origin for; RFC 9112 §3.2.2 makes the authority replace Host.
    const size_t colon = target.find("://");
    if (colon == std::string_view::npos) return std::nullopt;
    const std::string_view scheme = target.substr(0, colon);
    if (!ieq_ascii(scheme, "http") && !ieq_ascii(scheme, "https")) return std::nullopt;
    std::string_view rest = target.substr(colon + 3);
    size_t end = 0;
    while (end < rest.size() && rest[end] != '/' && rest[end] != '?' && rest[end] != '#') ++end;
    // Userinfo fails valid_host ('@'): RFC 9110 §4.2.4 says to treat it as an error.
    if (!valid_host(rest.substr(0, end))) return std::nullopt;
    out.form = TargetForm::Absolute;
    out.authority = rest.substr(0, end);
    out.path = rest.substr(end);
    return out;
}

}  // namespace sluice::http
