// base/sigbus.h — read a file mapping without letting a concurrent truncation kill the process.
//
// A MAP_SHARED file mapping faults with SIGBUS when the file shrinks under a reader. The server
// seals TLS records straight from mapped page cache (server/conn_tls.cc), so a file truncated
// while it is being served must cost that one response, not the process. run_guarded() runs a
// function with a per-thread guard armed over one address range; a SIGBUS inside the range jumps
// back (siglongjmp) and run_guarded returns false. Any other SIGBUS keeps its default action.
//
// Contract for `fn`: it may be abandoned at any instruction, so every frame between run_guarded
// and the faulting access must own nothing that needs a destructor or an unlock (plain C calls
// into libcrypto and trivially destructible locals only), and the caller must discard whatever
// state `fn` was updating (the server aborts the connection and frees its cipher context).
#pragma once

#include <cstddef>

namespace sluice::base {

// Installs the process-wide SIGBUS handler (SA_NODEFER, so the signal is not left blocked after
// the jump). Idempotent and thread-safe; call before the first run_guarded().
void install_sigbus_guard();

// Runs fn(arg) with SIGBUS in [lo, lo + len) turned into `false`. Not reentrant on one thread.
[[nodiscard]] bool run_guarded(const void* lo, size_t len, void (*fn)(void*), void* arg);

}  // namespace sluice::base
