// files/mime.h — extension → Content-Type from /etc/mime.types (Debian media-types) with a
// built-in fallback table. text/*, application/javascript, application/json, image/svg+xml,
// application/xml and application/manifest+json get "; charset=utf-8"; js/mjs always map to
// text/javascript whatever the system table says. Immutable after load; thread-safe to read.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sluice::files {

class MimeTypes {
public:
    // Built-in table, then /etc/mime.types (or `path`) layered on top if readable.
    static MimeTypes load(const char* path = "/etc/mime.types");
    // Content-Type for a file name (by its last extension, case-insensitive);
    // "application/octet-stream" when unknown.
    [[nodiscard]] std::string_view lookup(std::string_view filename) const;

private:
    // Transparent hashing lets lookup() probe with a string_view (no allocation per request).
    struct ExtHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    // lowercase ext (no dot) → value
    std::unordered_map<std::string, std::string, ExtHash, std::equal_to<>> by_ext_;
};

}  // namespace sluice::files
