// files/path.h — request-target → clean relative path. Pure string work, no I/O.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace sluice::files {

struct CleanPath {
    std::string rel;            // no leading '/', segments joined by '/', "" is the root itself
    bool trailing_slash = false;  // the target's path ended in '/'
};

// Strips the query/fragment, decodes percent-escapes exactly once, rejects NUL (%00), encoded
// '/' (%2F), malformed escapes, backslashes, segments that are not valid UTF-8 once decoded
// (overlong forms, surrogates, stray bytes) and non-origin-form targets (→ 400), resolves "."
// and ".." lexically without ever climbing above the root (a ".." at the root → 400), collapses
// "//". A segment starting with '.' is a dotfile: → 404 unless `allow_dotfiles`.
// Error value: the HTTP status to answer (400 or 404).
std::expected<CleanPath, int> clean_target(std::string_view target, bool allow_dotfiles);

// HTML-escapes &<>"' for autoindex listings.
std::string html_escape(std::string_view s);
// Percent-encodes a path segment for an href (unreserved characters kept).
std::string url_escape_segment(std::string_view s);

}  // namespace sluice::files
