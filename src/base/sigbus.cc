#include "base/sigbus.h"

#include <csetjmp>
#include <csignal>
#include <cstdint>
#include <mutex>

namespace sluice::base {
namespace {

struct Guard {
    sigjmp_buf env;
    uintptr_t lo = 0, hi = 0;
    volatile sig_atomic_t armed = 0;
};
// Static TLS in the executable: safe to touch from a signal handler.
thread_local Guard t_guard;

void on_sigbus(int sig, siginfo_t* info, void*) {
    Guard& g = t_guard;
    const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
    if (g.armed && addr >= g.lo && addr < g.hi) {
        g.armed = 0;
        siglongjmp(g.env, 1);
    }
    // Not a guarded read: restore the default action; returning re-runs the faulting access,
    // which then terminates the process as it would have without us.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, nullptr);
}

}  // namespace

void install_sigbus_guard() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction sa {};
        sa.sa_sigaction = on_sigbus;
        sa.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGBUS, &sa, nullptr);
    });
}

bool run_guarded(const void* lo, size_t len, void (*fn)(void*), void* arg) {
    Guard& g = t_guard;
    g.lo = reinterpret_cast<uintptr_t>(lo);
    g.hi = g.lo + len;
    if (sigsetjmp(g.env, 0) != 0) return false;  // the handler disarmed the guard
    g.armed = 1;
    fn(arg);
    g.armed = 0;
    return true;
}

}  // namespace sluice::base
