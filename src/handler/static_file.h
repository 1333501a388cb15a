// handler/static_file.h — the static-file handler shared by HTTP/1 and HTTP/2: from a parsed
// request to a decided response (http::ResponsePlan plus the cached variant its file body
// parts refer to). It checks the method, cleans the target, looks the path up in the worker's
// file cache, negotiates the encoding and decides File (200/206/304/412/416), Redirect (301),
// Directory (autoindex or 403), NotFound, Forbidden and Error. It never sees a socket: the
// caller renders the plan for its protocol (http::render_h1_head, or the fields for HTTP/2),
// sends the body, counts the request and writes the access log.
//
// One StaticFiles per worker thread (not thread-safe: the file cache and the DateCache are the
// worker's). Calls are synchronous and return with `out` complete; the file cache's metadata
// work on a miss runs inside handle() (see files/cache.h).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "files/cache.h"
#include "files/root.h"
#include "http/date.h"
#include "http/request.h"
#include "http/response.h"

namespace sluice::handler {

struct Options {
    bool dotfiles = false;         // serve (and list) names starting with '.'
    bool autoindex = false;        // list a directory without index.html (else 403)
    std::string_view server_name;  // Server value (long-lived); empty: no Server field
};

// What a handler works with. Filled by the worker; everything pointed at outlives every call.
struct Env {
    files::FileCache* cache = nullptr;
    const files::Root* root = nullptr;  // for autoindex listings
    http::DateCache* dates = nullptr;
    const uint64_t* now_ms = nullptr;   // the worker's monotonic clock, read at each lookup
    Options options;
};

// A decided response. Reused per connection (HTTP/1) or stream (HTTP/2): clear() keeps
// capacity. Its plan's field values refer to the Env's strings (the server name, the
// DateCache's buffer) and to the variant; `hold` keeps the variant alive, so keep `hold` (or a
// copy) until the last body byte is sent. Date is read from the DateCache when the fields are
// enumerated: a plan kept past a later call may send a later second (still well-formed).
struct Response {
    http::ResponsePlan plan;                  // status, fields, body, body_length, keep_alive
    const files::Variant* variant = nullptr;  // body parts from_file refer to this variant
    std::shared_ptr<files::Resource> hold;    // keeps variant (fd, bytes) alive while sent
    // Malformed input (400 from the target): plan.keep_alive is false and the body is sent
    // even for HEAD. HTTP/1 answers and closes (the request framing may be lost); HTTP/2
    // answers on the stream only.
    bool bad_request = false;
    void clear();  // reuse without freeing capacity
};

class StaticFiles {
public:
    // `env` is copied; what it points at must outlive this object.
    explicit StaticFiles(const Env& env);

    // GET/HEAD/OPTIONS/other of a parsed request (HTTP/1 or HTTP/2: the caller fills
    // http::Request; for h2 `target` is :path (form Asterisk for "*"), `host` is :authority,
    // version 2.0). Other methods → 405 with Allow. plan.keep_alive is req.keep_alive (false
    // after a bad request).
    void handle(const http::Request& req, Response& out);

    // A response for a request that could not be parsed (400, 413, 431, 501 …): no request
    // fields are known, so no keep-alive; head_only false. 405 carries Allow.
    void error(int status, Response& out);

private:
    [[nodiscard]] http::ServerInfo server_info();
    void simple(const http::Request& req, int status, std::span<const http::Field> extra,
                Response& out);
    void bad_request(Response& out);
    void file(const http::Request& req, files::Lookup& lk, Response& out);
    void redirect(const http::Request& req, Response& out);
    void autoindex(const http::Request& req, const std::string& rel, Response& out);

    Env env_;
};

}  // namespace sluice::handler
