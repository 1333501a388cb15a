#include "base/log.h"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>

namespace sluice {

void log_error(const char* fmt, ...) {
    char buf[1024];
    int n = std::snprintf(buf, sizeof buf, "sluice: ");
    va_list ap;
    va_start(ap, fmt);
    int m = std::vsnprintf(buf + n, sizeof buf - static_cast<size_t>(n) - 1, fmt, ap);
    va_end(ap);
    size_t len = static_cast<size_t>(n) + (m < 0 ? 0 : static_cast<size_t>(m));
    if (len > sizeof buf - 2) len = sizeof buf - 2;
    buf[len++] = '\n';
    (void)!::write(2, buf, len);
}

}  // namespace sluice
