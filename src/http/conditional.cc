// http/conditional.cc — entity-tag comparison and RFC 9110 §13.2.2 precondition order.
#include "http/conditional.h"

#include "http/date.h"

namespace sluice::http {

namespace {

bool is_ows(char c) { return c == ' ' || c == '\t'; }

struct EntityTag {
    bool weak = false;
    std::string_view opaque;  // including the quotes
};

// Parses one entity-tag at s[pos]; advances pos past it.
bool parse_etag(std::string_view s, size_t& pos, EntityTag& out) {
    out.weak = false;
    if (s.substr(pos, 2) == "W/") {
        out.weak = true;
        pos += 2;
    }
    if (pos >= s.size() || s[pos] != '"') return false;
    size_t close = s.find('"', pos + 1);
    if (close == std::string_view::npos) return false;
    out.opaque = s.substr(pos, close - pos + 1);
    pos = close + 1;
    return true;
}

}  // namespace

bool etag_list_matches(std::string_view list, std::string_view etag, bool weak) {
    EntityTag ours;
    size_t p = 0;
    if (etag.empty() || !parse_etag(etag, p, ours)) return false;
    if (!weak && ours.weak) return false;

    size_t pos = 0;
    while (pos < list.size()) {
        while (pos < list.size() && (is_ows(list[pos]) || list[pos] == ',')) ++pos;
        if (pos == list.size()) break;
        if (list[pos] == '*') return true;
        EntityTag theirs;
        if (!parse_etag(list, pos, theirs)) return false;  // malformed list: no match
        if (theirs.opaque == ours.opaque && (weak || !theirs.weak)) return true;
        while (pos < list.size() && is_ows(list[pos])) ++pos;
        if (pos < list.size() && list[pos] != ',') return false;
    }
    return false;
}

Precondition evaluate_preconditions(const Request& req, std::string_view etag, time_t mtime) {
    const bool get_or_head = req.method == Method::Get || req.method == Method::Head;
    if (!req.if_match.empty()) {
        if (!etag_list_matches(req.if_match, etag, false)) return Precondition::PreconditionFailed;
    } else if (!req.if_unmodified_since.empty()) {
        auto date = parse_http_date(req.if_unmodified_since);
        if (date && mtime > *date) return Precondition::PreconditionFailed;
    }
    if (!req.if_none_match.empty()) {
        if (etag_list_matches(req.if_none_match, etag, true)) {
            return get_or_head ? Precondition::NotModified : Precondition::PreconditionFailed;
        }
    } else if (get_or_head && !req.if_modified_since.empty()) {
        auto date = parse_http_date(req.if_modified_since);
        if (date && mtime <= *date) return Precondition::NotModified;
    }
    return Precondition::Proceed;
}

bool if_range_allows(std::string_view if_range, std::string_view etag, time_t mtime) {
    if (if_range.empty()) return true;
    if (if_range.front() == '"' || if_range.starts_with("W/")) {
        EntityTag theirs;
        EntityTag ours;
        size_t p = 0;
        size_t q = 0;
        if (!parse_etag(if_range, p, theirs) || p != if_range.size()) return false;
        if (etag.empty() || !parse_etag(etag, q, ours)) return false;
        return !theirs.weak && !ours.weak && theirs.opaque == ours.opaque;
    }
    auto date = parse_http_date(if_range);
    return date && *date == mtime;
}

}  // namespace sluice::http
