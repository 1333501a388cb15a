// http/parser.h — sans-I/O HTTP/1.x request parser over llhttp (the only file that includes
// <llhttp.h> is parser.cc). Bytes in, one Request (or an error status) out. Single-threaded;
// one parser per connection. Callbacks into llhttp never escape this module.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "http/request.h"

namespace sluice::http {

struct ParserLimits {
    size_t max_request_line = 8 * 1024;   // method + target + version; longer -> 414
    size_t max_header_block = 16 * 1024;  // all header lines; larger -> 431
    size_t max_discarded_body = 1 << 20;  // GET/HEAD bodies are read and dropped up to this; -> 413
};

enum class ParseStatus : uint8_t {
    NeedMore,  // all bytes consumed, no complete request yet
    Complete,  // `req` is complete; bytes after `consumed` belong to the next request
    Error,     // `error_status` is the HTTP status to answer with (400/405/413/414/431/505); close after
};

struct ParseOutcome {
    ParseStatus status = ParseStatus::NeedMore;
    size_t consumed = 0;
    int error_status = 0;
    const char* error_reason = "";  // short text for the error log, never sent verbatim
};

class RequestParser {
public:
    explicit RequestParser(ParserLimits limits = {});
    ~RequestParser();
    RequestParser(const RequestParser&) = delete;
    RequestParser& operator=(const RequestParser&) = delete;

    // Parses as much of `data` as forms the current request. Returns Complete exactly once per
    // request, after which the caller handles `req` and calls feed() again with the rest
    // (pipelining). After Error the parser must not be fed again.
    ParseOutcome feed(std::string_view data, Request& req);

    // True when a request has started (some bytes consumed) but is not complete: used to choose
    // between the header timeout and the keep-alive timeout, and to answer 400 on EOF mid-request.
    [[nodiscard]] bool in_progress() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::http
