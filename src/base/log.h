// base/log.h — error/diagnostic lines to stderr, one write per line (thread-safe by
// virtue of a single write(2)). Never used for key material or per-request logging.
#pragma once

namespace sluice {

// printf-style; prefixes "sluice: " and appends a newline.
[[gnu::format(printf, 1, 2)]] void log_error(const char* fmt, ...);

}  // namespace sluice
