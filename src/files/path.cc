#include "files/path.h"

#include <cstdint>

namespace sluice::files {
namespace {

constexpr int kBadRequest = 400;
constexpr int kNotFound = 404;

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Appends raw segment `raw` (no '/' inside) to `out`, percent-decoded exactly once. Decoded
// bytes that would change the path's structure or be unsafe in a file name (NUL, '/', '\')
// are refused, so the result can never be re-split differently from what was checked.
// `non_ascii` is set when a byte >= 0x80 was appended (only then is UTF-8 worth checking).
bool append_decoded(std::string_view raw, std::string& out, bool& non_ascii) {
    unsigned acc = 0;  // OR of the bytes appended
    size_t i = 0;
    while (i < raw.size()) {
        // Copy the run of ordinary bytes in one append; most segments have no escapes.
        size_t run = i;
        while (run < raw.size() && raw[run] != '%' && raw[run] != '\\' && raw[run] != '\0') {
            acc |= static_cast<uint8_t>(raw[run]);
            ++run;
        }
        out.append(raw.data() + i, run - i);
        i = run;
        if (i == raw.size()) break;
        if (raw[i] != '%' || i + 2 >= raw.size()) return false;
        int hi = hex_value(raw[i + 1]);
        int lo = hex_value(raw[i + 2]);
        if (hi < 0 || lo < 0) return false;
        char c = static_cast<char>(hi * 16 + lo);
        if (c == '\0' || c == '/' || c == '\\') return false;
        acc |= static_cast<uint8_t>(c);
        out.push_back(c);
        i += 3;
    }
    non_ascii = (acc & 0x80) != 0;
    return true;
}

// Whether `s` is well-formed UTF-8 (RFC 3629 §4): no overlong forms (C0 AE for '.'), no
// surrogates, nothing above U+10FFFF, no stray continuation bytes.
bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<uint8_t>(s[i]);
        if (b < 0x80) {
            ++i;
            continue;
        }
        size_t len = 0;
        uint8_t lo = 0x80;  // allowed range of the second byte
        uint8_t hi = 0xBF;
        if (b >= 0xC2 && b <= 0xDF) {
            len = 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            len = 3;
            if (b == 0xE0) lo = 0xA0;  // overlong below U+0800
            if (b == 0xED) hi = 0x9F;  // UTF-16 surrogates
        } else if (b >= 0xF0 && b <= 0xF4) {
            len = 4;
            if (b == 0xF0) lo = 0x90;  // overlong below U+10000
            if (b == 0xF4) hi = 0x8F;  // above U+10FFFF
        } else {
            return false;  // continuation byte, C0/C1 (always overlong) or F5..FF
        }
        if (s.size() - i < len) return false;
        const auto b1 = static_cast<uint8_t>(s[i + 1]);
        if (b1 < lo || b1 > hi) return false;
        for (size_t k = 2; k < len; ++k) {
            const auto c = static_cast<uint8_t>(s[i + k]);
            if (c < 0x80 || c > 0xBF) return false;
        }
        i += len;
    }
    return true;
}

// Whether any segment of `rel` is a dotfile, other than a leading ".well-known".
bool has_hidden_segment(std::string_view rel) {
    // RFC 8615 well-known URIs are expected to be reachable (ACME challenges etc.).
    constexpr std::string_view kWellKnown = ".well-known";
    size_t pos = 0;
    if (rel.starts_with(kWellKnown) &&
        (rel.size() == kWellKnown.size() || rel[kWellKnown.size()] == '/')) {
        pos = kWellKnown.size();
    } else if (!rel.empty() && rel.front() == '.') {
        return true;
    }
    return rel.find("/.", pos) != std::string_view::npos;
}

}  // namespace

std::expected<CleanPath, int> clean_target(std::string_view target, bool allow_dotfiles) {
    // Only origin-form is served; "*" (OPTIONS) and absolute-form are refused here.
    if (target.empty() || target.front() != '/') return std::unexpected(kBadRequest);
    // A plain loop: find_first_of("?#") costs one memchr call per character.
    for (size_t i = 0; i < target.size(); ++i) {
        if (target[i] == '?' || target[i] == '#') {
            target = target.substr(0, i);
            break;
        }
    }

    CleanPath out;
    out.rel.reserve(target.size());
    // "/" itself, a trailing '/', or a final "." / ".." all name a directory (RFC 3986
    // remove_dot_segments keeps the slash).
    bool dir_like = true;
    size_t pos = 1;
    while (pos <= target.size()) {
        size_t slash = target.find('/', pos);
        if (slash == std::string_view::npos) slash = target.size();
        std::string_view raw = target.substr(pos, slash - pos);
        pos = slash + 1;

        // Decode straight into rel after a separator, then inspect what was appended.
        size_t mark = out.rel.size();
        if (mark != 0) out.rel.push_back('/');
        size_t seg_start = out.rel.size();
        bool non_ascii = false;
        if (!append_decoded(raw, out.rel, non_ascii)) return std::unexpected(kBadRequest);
        std::string_view seg = std::string_view(out.rel).substr(seg_start);
        // Checked per segment, before ".." can drop one: no name is served or walked through
        // whose bytes another decoder could read differently (an overlong "%C0%AE" is '.').
        if (non_ascii && !valid_utf8(seg)) return std::unexpected(kBadRequest);
        if (seg.empty() || seg == "." || seg == "..") {
            bool up = seg == "..";
            out.rel.resize(mark);
            if (up) {
                if (out.rel.empty()) return std::unexpected(kBadRequest);
                size_t prev = out.rel.rfind('/');
                out.rel.resize(prev == std::string::npos ? 0 : prev);
            }
            dir_like = true;
            continue;
        }
        dir_like = false;
    }
    out.trailing_slash = dir_like;
    if (!allow_dotfiles && has_hidden_segment(out.rel)) return std::unexpected(kNotFound);
    return out;
}

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size() + s.size() / 8);
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out.push_back(c);
        }
    }
    return out;
}

std::string url_escape_segment(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        auto u = static_cast<uint8_t>(c);
        bool unreserved = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
                          (u >= '0' && u <= '9') || u == '-' || u == '.' || u == '_' ||
                          u == '~';
        if (unreserved) {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(kHex[u >> 4]);
            out.push_back(kHex[u & 0xF]);
        }
    }
    return out;
}

}  // namespace sluice::files
