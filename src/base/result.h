// base/result.h — errors as values.
// A Result<T> holds a T or a positive errno value. No exceptions anywhere in src/.
#pragma once

#include <cerrno>
#include <cstring>
#include <expected>
#include <string_view>

namespace sluice {

// Errno wrapper so an error is never confused with a valid int result.
struct Errno {
    int code = 0;
    [[nodiscard]] const char* message() const { return std::strerror(code); }
};

template <class T>
using Result = std::expected<T, Errno>;

inline std::unexpected<Errno> fail(int code) { return std::unexpected<Errno>(Errno{code}); }
inline std::unexpected<Errno> fail_errno() { return fail(errno); }

}  // namespace sluice
