// http/conditional.h — preconditions (RFC 9110 §13) evaluated in the order of §13.2.2.
#pragma once

#include <ctime>
#include <string_view>

#include "http/request.h"

namespace sluice::http {

enum class Precondition : uint8_t {
    Proceed,             // serve normally (ranges still apply)
    NotModified,         // 304 (GET/HEAD)
    PreconditionFailed,  // 412
};

// `etag` is the strong entity-tag including quotes, `mtime` the representation's Last-Modified.
Precondition evaluate_preconditions(const Request& req, std::string_view etag, time_t mtime);

// If-Range (§13.1.5): true when the Range header should be honoured. An entity-tag must match
// strongly; a date must equal Last-Modified exactly. An empty header returns true.
bool if_range_allows(std::string_view if_range, std::string_view etag, time_t mtime);

// Entity-tag list matching (If-None-Match weak comparison / If-Match strong comparison).
bool etag_list_matches(std::string_view list, std::string_view etag, bool weak);

}  // namespace sluice::http
