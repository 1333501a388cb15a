// server/metrics.h — the operator's listener (--metrics-listen): GET/HEAD /metrics (the
// counters, summed over workers, in Prometheus text) and /health (200 "ok", 503 "draining"
// once shutdown began). A thread of its own with blocking sockets, one connection at a time,
// each with a 2 s read/write timeout and Connection: close: scrapes are rare and small, so the
// workers' rings never see this port, and a slow scraper delays only the next scrape.
#pragma once

#include <atomic>
#include <thread>
#include <vector>

#include "base/addr.h"
#include "base/fd.h"
#include "base/result.h"

namespace sluice::obs {
struct WorkerCounters;
}

namespace sluice::server {

class Metrics {
public:
    // Binds `addr` (SO_REUSEADDR only: a port another process holds is never shared).
    static Result<std::unique_ptr<Metrics>> listen(const SocketAddr& addr);
    ~Metrics();  // stops the thread
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // Serves the counters of `views` (the workers', alive until this is destroyed).
    void start(std::vector<const obs::WorkerCounters*> views);
    [[nodiscard]] const SocketAddr& address() const { return addr_; }  // as bound
    void set_draining() { draining_.store(true, std::memory_order_relaxed); }

private:
    Metrics(UniqueFd listen_fd, UniqueFd stop_fd);
    void run();
    void serve(int fd);

    UniqueFd listen_fd_;
    SocketAddr addr_;
    UniqueFd stop_fd_;  // eventfd: written by the destructor
    std::vector<const obs::WorkerCounters*> views_;
    std::atomic<bool> draining_{false};
    std::thread thread_;
};

}  // namespace sluice::server
