// http/response.h — deciding and rendering a response for a static representation. Pure: the
// caller (server) supplies what it knows about the file; this returns header bytes and the list
// of body pieces to send. No I/O.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "http/accept_encoding.h"
#include "http/request.h"

namespace sluice::http {

// The methods sluice serves, for 405 and OPTIONS (one list, so they never disagree).
inline constexpr std::string_view kAllowHeader = "Allow: GET, HEAD, OPTIONS\r\n";

// Reason phrase for a status code ("OK", "Not Found", …); "Unknown" for others.
std::string_view status_reason(int status);

// What the server knows about the representation selected for a request.
struct Representation {
    uint64_t length = 0;
    time_t mtime = 0;
    std::string_view etag;           // strong, with quotes
    std::string_view content_type;   // full value, e.g. "text/html; charset=utf-8"
    Encoding encoding = Encoding::Identity;
    bool vary_accept_encoding = false;  // precompressed siblings exist for this resource
    // render_representation_headers(*this), when the caller kept it: used as is for a
    // whole-body response instead of rendering the same lines again.
    std::string_view prerendered;
};

// The header lines a whole-body response (200, or HEAD of it) carries for `rep`, from
// Content-Type to Vary, each ending in CRLF. They depend only on `rep`, so a cache can keep
// them with the file (Representation::prerendered).
std::string render_representation_headers(const Representation& rep);

// One piece of the body: either literal bytes (multipart boundaries) or a range of the file.
struct BodyPart {
    bool from_file = true;
    uint64_t offset = 0;
    uint64_t length = 0;
    std::string literal;  // when !from_file
};

struct ResponsePlan {
    int status = 200;
    std::string head;             // status line + headers + CRLF CRLF
    std::vector<BodyPart> body;   // empty for HEAD, 304, 416 etc.
    uint64_t body_length = 0;     // bytes in `body` (what Content-Length says, unless HEAD)
    bool keep_alive = true;
};

struct ServerInfo {
    std::string_view server_name = "sluice";  // Server header value
    std::string_view date;                    // current Date value (DateCache::now())
};

// GET/HEAD of a file: preconditions, If-Range, Range (single -> 206, several -> multipart
// /byteranges, unsatisfiable -> 416), 304, 412. `req.keep_alive` decides Connection.
void plan_file_response(const Request& req, const Representation& rep, const ServerInfo& info,
                        ResponsePlan& out);

// An error or redirect with a small HTML body. `extra_headers` are complete lines ending in CRLF
// (e.g. kAllowHeader, "Location: /dir/\r\n"). `keep_alive` false adds Connection: close.
// `head_only` omits the body but keeps Content-Length.
void plan_simple_response(int status, std::string_view extra_headers, bool keep_alive,
                          bool head_only, int http_minor, const ServerInfo& info,
                          ResponsePlan& out);

// 200 to OPTIONS ("*" or a path): kAllowHeader and Content-Length: 0 (RFC 9110 §9.3.7).
void plan_options_response(bool keep_alive, int http_minor, const ServerInfo& info,
                           ResponsePlan& out);

// A generated HTML body (autoindex) with the given content.
void plan_html_response(int status, std::string body, bool keep_alive, bool head_only,
                        int http_minor, const ServerInfo& info, ResponsePlan& out);

}  // namespace sluice::http
