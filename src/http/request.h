// http/request.h — one parsed HTTP/1.x request. Plain data; owned by the connection and reused
// (clear() keeps capacity so a keep-alive connection does not allocate per request).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::http {

enum class Method : uint8_t { Get, Head, Options, Other };

// RFC 9112 §3.2. The parser accepts each form only with the methods that may use it.
enum class TargetForm : uint8_t {
    Origin,     // "/path?query"
    Absolute,   // "http://host/path": the authority replaces Host (RFC 9112 §3.2.2)
    Authority,  // "host:port", CONNECT only
    Asterisk,   // "*", OPTIONS only
};

struct Request {
    Method method = Method::Other;
    std::string method_name;  // as sent, for the access log and 405
    std::string target;       // raw request-target, e.g. "/a%20b/?q=1" (the access log's)
    TargetForm form = TargetForm::Origin;
    std::string absolute_path;  // absolute-form only: the target's path and query, "/…"
    uint8_t version_major = 1;
    uint8_t version_minor = 1;
    // Keep the connection open after the response (HTTP/1.1 default, 1.0 with keep-alive).
    bool keep_alive = true;
    bool has_body = false;    // a body was sent (and discarded by the parser)

    // Headers sluice acts on (last value wins, except lists which are joined with ", ").
    // `host` is the Host value, checked by valid_host(), or the authority of an absolute-form
    // target.
    std::string host;
    std::string range;
    std::string if_range;
    std::string if_match;
    std::string if_none_match;
    std::string if_modified_since;
    std::string if_unmodified_since;
    std::string accept_encoding;
    std::string user_agent;  // access log
    std::string referer;     // access log
    bool has_host = false;  // a Host field was sent

    // The path and query the resource is looked up by: the target itself in origin-form.
    [[nodiscard]] std::string_view path() const {
        return form == TargetForm::Absolute ? std::string_view(absolute_path)
                                            : std::string_view(target);
    }

    void clear();
};

}  // namespace sluice::http
