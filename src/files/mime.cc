#include "files/mime.h"

#include <cstdio>
#include <utility>

namespace sluice::files {
namespace {

constexpr std::string_view kOctetStream = "application/octet-stream";

// Used when /etc/mime.types is missing, and for the few types where its answer is worse
// for browsers than ours (see kBuiltinWins).
constexpr std::pair<std::string_view, std::string_view> kBuiltin[] = {
    {"html", "text/html"},
    {"htm", "text/html"},
    {"css", "text/css"},
    {"js", "text/javascript"},
    {"mjs", "text/javascript"},
    {"json", "application/json"},
    {"webmanifest", "application/manifest+json"},
    {"txt", "text/plain"},
    {"md", "text/markdown"},
    {"csv", "text/csv"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/vnd.microsoft.icon"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"wasm", "application/wasm"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tar", "application/x-tar"},
    {"map", "application/json"},
};

// Script types must stay JavaScript whatever the system table says: browsers refuse module
// scripts served with any other type.
constexpr std::string_view kBuiltinWins[] = {"js", "mjs"};

bool wants_charset(std::string_view type) {
    return type.starts_with("text/") || type == "application/javascript" ||
           type == "application/json" || type == "application/xml" ||
           type == "image/svg+xml" || type == "application/manifest+json";
}

std::string with_charset(std::string_view type) {
    std::string v(type);
    if (wants_charset(type)) v += "; charset=utf-8";
    return v;
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = ascii_lower(c);
    return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

MimeTypes MimeTypes::load(const char* path) {
    MimeTypes m;
    for (auto [ext, type] : kBuiltin) m.by_ext_.emplace(std::string(ext), with_charset(type));

    FILE* f = path ? std::fopen(path, "re") : nullptr;
    if (!f) return m;
    char* line = nullptr;
    size_t cap = 0;
    while (::getline(&line, &cap, f) > 0) {
        std::string_view rest(line);
        if (size_t hash = rest.find('#'); hash != std::string_view::npos) {
            rest = rest.substr(0, hash);
        }
        auto next_token = [&rest]() {
            size_t b = 0;
            while (b < rest.size() && is_space(rest[b])) ++b;
            size_t e = b;
            while (e < rest.size() && !is_space(rest[e])) ++e;
            std::string_view tok = rest.substr(b, e - b);
            rest = rest.substr(e);
            return tok;
        };
        std::string_view type = next_token();
        if (type.empty() || type.find('/') == std::string_view::npos) continue;
        std::string value = with_charset(lower(type));
        for (std::string_view ext = next_token(); !ext.empty(); ext = next_token()) {
            // Multi-part extensions ("tm.json") can never match a last-extension lookup.
            if (ext.find('.') != std::string_view::npos) continue;
            std::string key = lower(ext);
            bool keep_builtin = false;
            for (std::string_view w : kBuiltinWins) keep_builtin |= (key == w);
            if (!keep_builtin) m.by_ext_.insert_or_assign(std::move(key), value);
        }
    }
    std::free(line);
    std::fclose(f);
    return m;
}

std::string_view MimeTypes::lookup(std::string_view filename) const {
    size_t slash = filename.rfind('/');
    std::string_view base = slash == std::string_view::npos ? filename : filename.substr(slash + 1);
    size_t dot = base.rfind('.');
    if (dot == std::string_view::npos || dot + 1 == base.size()) return kOctetStream;
    std::string_view ext = base.substr(dot + 1);
    // Real extensions are short; lowering into a stack buffer keeps lookups allocation-free.
    char buf[32];
    if (ext.size() > sizeof buf) return kOctetStream;
    for (size_t i = 0; i < ext.size(); ++i) buf[i] = ascii_lower(ext[i]);
    auto it = by_ext_.find(std::string_view(buf, ext.size()));
    return it == by_ext_.end() ? kOctetStream : std::string_view(it->second);
}

}  // namespace sluice::files
