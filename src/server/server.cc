#include "server/server.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/addr.h"
#include "base/log.h"
#include "base/sigbus.h"
#include "config/config.h"
#include "core/ring.h"
#include "session/h2.h"
#include "files/mime.h"
#include "files/root.h"
#include "ktls/probe.h"
#include "tls/context.h"
#include "net/listener.h"
#include "obs/access_log.h"
#include "obs/counters.h"
#include "server/metrics.h"
#include "server/worker.h"

namespace sluice::server {

namespace {

constexpr int kExitUsage = 2;

}  // namespace

int main_entry(int argc, char** argv) {
    auto cli = config::parse_cli(argc, argv);
    if (!cli) {
        log_error("%s", cli.error().c_str());
        return kExitUsage;
    }
    if (cli->action == config::CliAction::Help) {
        std::fputs(config::help_text().c_str(), stdout);
        return 0;
    }
    const config::Config& cfg = cli->config;
    if (cli->action == config::CliAction::Version) {
        std::fputs(config::version_text().c_str(), stdout);
        std::printf("protocols: http/1.1, h2 (ALPN; nghttp2 %s), h2c (prior knowledge)\n",
                    session::h2_library_version());
        auto ring = core::Ring::create(8);
        if (ring) std::printf("io_uring: %s\n", (*ring)->features().describe().c_str());
        std::printf("kTLS: %s\n", ktls::ulp_available() ? "tls ULP available"
                                                        : "tls ULP unavailable (userspace records)");
        std::printf("TLS handshake crypto: %s\n", tls::accel_description());
        return 0;
    }

    if (cli->action == config::CliAction::KtlsProbe) {
        std::fputs(ktls::render(ktls::probe()).c_str(), stdout);
        return 0;
    }

    auto root = files::Root::open(cfg.root);
    if (!root) {
        log_error("root '%s': %s", cfg.root.c_str(), root.error().message());
        return kExitUsage;
    }
    const files::MimeTypes mime = files::MimeTypes::load();
    auto sink = obs::LogSink::open(cfg.access_log);
    if (!sink) {
        log_error("--access-log '%s': %s", cfg.access_log.c_str(), sink.error().message());
        return kExitUsage;
    }

    // HTTPS: certificates and keys are checked before anything listens.
    std::unique_ptr<tls::Context> tls_ctx;
    bool ktls_ok = false;
    bool ktls_rekey = false;
    if (!cfg.tls_listen.empty()) {
        tls::TlsOptions opts;
        for (const auto& ck : cfg.certs) opts.certs.push_back({ck.cert_file, ck.key_file});
        opts.self_signed = cfg.self_signed;
        opts.versions = cfg.tls_versions;
        opts.ciphers = cfg.ciphers;
        opts.ticket_keys_file = cfg.ticket_keys_file;
        opts.http2 = cfg.http2;
        auto ctx = tls::Context::create(opts);
        if (!ctx) {
            log_error("%s", ctx.error().c_str());
            return kExitUsage;
        }
        tls_ctx = std::move(*ctx);
        if (cfg.ktls != config::Config::Ktls::Off) ktls_ok = ktls::ulp_available();
        if (ktls_ok) ktls_rekey = ktls::rekey_available();
        if (cfg.ktls == config::Config::Ktls::Require && !ktls_ok) {
            log_error("--ktls require: this kernel has no kernel TLS (TCP_ULP \"tls\" "
                      "unavailable; try modprobe tls, or --ktls auto)");
            return kExitUsage;
        }
    }
    // --ktls-diag: a sock_diag round trip per kTLS handshake can only tell "NIC" where an
    // interface offloads TLS, so auto asks only then (interfaces are checked once, here).
    bool ktls_diag = false;
    if (ktls_ok && cfg.ktls_diag == config::Config::KtlsDiag::Always) {
        ktls_diag = true;
    } else if (ktls_ok && cfg.ktls_diag == config::Config::KtlsDiag::Auto) {
        const auto netdevs = ktls::probe_netdevs();
        ktls_diag = ktls::any_tls_offload(netdevs);
        if (ktls_diag) {
            log_error("kTLS: an interface has TLS offload on; asking sock_diag per connection "
                      "(kernel-hw or kernel-sw in the access log; --ktls-diag off to skip)");
        }
    }

    // Every worker gets its own SO_REUSEPORT socket per address. Bind them all before any
    // thread starts so a busy port is reported once and nothing is half-started. Port 0 is
    // resolved by the first bind and reused by the other workers.
    const auto threads = static_cast<unsigned>(cfg.threads);
    std::vector<std::vector<std::pair<UniqueFd, bool>>> per_worker(threads);
    std::vector<std::string> urls;
    // Clients speak first (HTTP and TLS alike): a connection waits in the kernel until its
    // first bytes arrive, so the accept and the request are one wakeup. One second: the
    // kernel then retransmits its SYN-ACK once and accepts on the client's ACK, so a silent
    // client meets the usual header/handshake timeouts only about a second later.
    constexpr int defer_s = 1;
    auto bind_all = [&](const std::vector<SocketAddr>& addrs, bool is_tls) -> bool {
        for (const SocketAddr& a : addrs) {
            SocketAddr addr = a;
            for (unsigned t = 0; t < threads; ++t) {
                auto fd = net::listen_reuseport(addr, cfg.backlog, defer_s);
                if (!fd) {
                    log_error("%s %s: %s", is_tls ? "--tls-listen" : "--listen",
                              format_socket_addr(addr.get()).c_str(), fd.error().message());
                    return false;
                }
                if (t == 0) {
                    // Port 0 is resolved by the first bind and reused by the other workers.
                    if (auto bound = net::local_addr(fd->get())) addr = *bound;
                    urls.push_back((is_tls ? "https://" : "http://") +
                                   format_socket_addr(addr.get()) + "/");
                }
                per_worker[t].emplace_back(std::move(*fd), is_tls);
            }
        }
        return true;
    };
    if (!bind_all(cfg.listen, false) || !bind_all(cfg.tls_listen, true)) return kExitUsage;
    std::unique_ptr<Metrics> metrics;  // destroyed (thread stopped) after the workers below
    if (cfg.metrics_listen.len != 0) {
        auto m = Metrics::listen(cfg.metrics_listen);
        if (!m) {
            log_error("--metrics-listen %s: %s",
                      format_socket_addr(cfg.metrics_listen.get()).c_str(), m.error().message());
            return kExitUsage;
        }
        metrics = std::move(*m);
    }

    // Signals are taken synchronously by this thread only; workers inherit the mask.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);
    base::install_sigbus_guard();  // user TX seals from file mappings (base/sigbus.h)

    Shared shared;
    shared.config = &cfg;
    shared.root = &*root;
    shared.mime = &mime;
    shared.log_sink = *sink;
    shared.tls = tls_ctx.get();
    shared.ktls_available = ktls_ok;
    shared.ktls_diag = ktls_diag;
    shared.ktls_rekey = ktls_rekey;

    std::vector<std::unique_ptr<Worker>> workers;
    std::vector<std::thread> thread_handles;
    auto ready = std::make_unique<std::atomic<int>[]>(threads);
    for (unsigned t = 0; t < threads; ++t) {
        ready[t].store(0);
        workers.push_back(std::make_unique<Worker>(shared, t, std::move(per_worker[t])));
    }
    for (unsigned t = 0; t < threads; ++t) {
        Worker* w = workers[t].get();
        std::atomic<int>* r = &ready[t];
        thread_handles.emplace_back([w, r] { w->run(*r); });
    }
    int failed = 0;
    for (unsigned t = 0; t < threads; ++t) {
        ready[t].wait(0);
        if (ready[t].load() < 0) failed = -ready[t].load();
    }
    if (failed) {
        log_error("io_uring setup failed: %s (kernel 5.19+ with io_uring enabled is required)",
                  std::strerror(failed));
        for (auto& w : workers) w->request_stop();
        for (auto& th : thread_handles) th.join();
        metrics.reset();  // before the workers' counters go
        return 1;
    }
    if (metrics) {
        std::vector<const obs::WorkerCounters*> views;
        for (auto& w : workers) views.push_back(&w->counters_view());
        metrics->start(std::move(views));
        urls.push_back("http://" + format_socket_addr(metrics->address().get()) + "/metrics");
    }
    std::string where;
    for (const std::string& u : urls) where += (where.empty() ? "" : " ") + u;
    log_error("serving %s on %s (%u thread%s)", root->path().c_str(), where.c_str(), threads,
              threads == 1 ? "" : "s");

    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGHUP) {
            // Ticket keys are reread (a fleet rotates the shared file, then signals).
            if (tls_ctx && !cfg.ticket_keys_file.empty()) {
                if (auto r = tls_ctx->reload_ticket_keys(); !r)
                    log_error("SIGHUP: %s", tls_ctx->last_reload_error().c_str());
                else
                    log_error("SIGHUP: ticket keys reloaded from %s", cfg.ticket_keys_file.c_str());
            }
            continue;
        }
        if (sig == SIGUSR1) {
            // Counters, summed over workers, in a metrics-style text on stderr.
            std::vector<const obs::WorkerCounters*> views;
            for (auto& w : workers) views.push_back(&w->counters_view());
            std::string text = obs::render_counters(views);
            (void)!::write(2, text.data(), text.size());
            continue;
        }
        break;
    }
    if (metrics) metrics->set_draining();  // /health answers 503 while the workers drain
    for (auto& w : workers) w->request_stop();
    for (auto& th : thread_handles) th.join();
    metrics.reset();  // before the workers' counters go
    return 0;
}

}  // namespace sluice::server
