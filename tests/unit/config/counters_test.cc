#include "obs/counters.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace sluice::obs {
namespace {

uint64_t metric(const std::string& text, const std::string& name) {
    size_t pos = text.find(name + " ");
    EXPECT_NE(pos, std::string::npos) << name;
    if (pos == std::string::npos) return UINT64_MAX;
    EXPECT_TRUE(pos == 0 || text[pos - 1] == '\n');
    return std::stoull(text.substr(pos + name.size() + 1));
}

TEST(Counters, SumsAcrossWorkersAndSkipsNull) {
    WorkerCounters a;
    WorkerCounters b;
    a.requests.add(3);
    b.requests.add(4);
    a.bytes_sent.add(1000);
    b.bytes_sent.add(24);
    a.active_connections.add(5);
    a.active_connections.sub(2);
    b.accepted.add();
    b.timeouts_keepalive.add(2);
    const WorkerCounters* all[] = {&a, nullptr, &b};
    std::string text = render_counters(all);
    EXPECT_EQ(metric(text, "sluice_server_requests_total"), 7u);
    EXPECT_EQ(metric(text, "sluice_server_sent_bytes_total"), 1024u);
    EXPECT_EQ(metric(text, "sluice_server_connections_active"), 3u);
    EXPECT_EQ(metric(text, "sluice_server_connections_accepted_total"), 1u);
    EXPECT_EQ(metric(text, "sluice_server_timeouts_keepalive_total"), 2u);
    EXPECT_EQ(metric(text, "sluice_server_timeouts_header_total"), 0u);
    EXPECT_EQ(text.back(), '\n');
    // One "name value" line per metric, no name twice (kTLS errno lines only appear when
    // non-zero).
    std::set<std::string> names;
    size_t lines = 0;
    for (size_t pos = 0; pos < text.size();) {
        size_t eol = text.find('\n', pos);
        ASSERT_NE(eol, std::string::npos);
        std::string line = text.substr(pos, eol - pos);
        size_t sp = line.find(' ');
        ASSERT_NE(sp, std::string::npos) << line;
        EXPECT_EQ(line.rfind("sluice_", 0), 0u) << line;
        EXPECT_EQ(line.find_first_not_of("0123456789", sp + 1), std::string::npos) << line;
        names.insert(line.substr(0, sp));
        ++lines;
        pos = eol + 1;
    }
    EXPECT_EQ(names.size(), lines);
    EXPECT_GE(lines, 30u);
    EXPECT_EQ(text.find("sluice_ktls_setsockopt_failures_total"), std::string::npos);
}

TEST(Counters, KeyUpdateRekeys) {
    WorkerCounters a;
    WorkerCounters b;
    a.tls_keyupdate_kernel_rekeyed.add(2);
    b.tls_keyupdate_kernel_rekeyed.add(1);
    b.tls_keyupdate_kernel_tx_rekeyed.add(1);
    a.tls_keyupdate_rekey_failed.add(1);
    const WorkerCounters* all[] = {&a, &b};
    std::string text = render_counters(all);
    EXPECT_EQ(metric(text, "sluice_tls_keyupdate_kernel_rekeyed_total"), 3u);
    EXPECT_EQ(metric(text, "sluice_tls_keyupdate_kernel_tx_rekeyed_total"), 1u);
    EXPECT_EQ(metric(text, "sluice_tls_keyupdate_rekey_failed_total"), 1u);
    EXPECT_EQ(metric(text, "sluice_tls_keyupdate_closed_total"), 0u);
}

TEST(Counters, KtlsFailuresByErrno) {
    WorkerCounters a;
    WorkerCounters b;
    a.ktls_errno[2].add(3);  // ENOENT: no tls module
    b.ktls_errno[2].add(1);
    a.handshakes_ok.add(5);
    const WorkerCounters* all[] = {&a, &b};
    std::string text = render_counters(all);
    EXPECT_NE(text.find("sluice_ktls_setsockopt_failures_total{errno=\"2\"} 4\n"),
              std::string::npos);
    EXPECT_EQ(metric(text, "sluice_tls_handshakes_ok_total"), 5u);
}

TEST(Counters, PrometheusTextHasHelpTypeAndTheSameValues) {
    WorkerCounters a;
    WorkerCounters b;
    a.requests.add(4);
    b.requests.add(3);
    a.active_connections.set(2);
    b.ktls_errno[2].add(1);
    const WorkerCounters* all[] = {&a, &b};
    const std::string text = render_prometheus(all);
    EXPECT_NE(text.find("# HELP sluice_server_requests_total "), std::string::npos);
    EXPECT_NE(text.find("# TYPE sluice_server_requests_total counter\nsluice_server_requests_total 7\n"),
              std::string::npos);
    EXPECT_NE(text.find("# TYPE sluice_server_connections_active gauge\nsluice_server_connections_active 2\n"),
              std::string::npos);
    EXPECT_NE(text.find("sluice_ktls_setsockopt_failures_total{errno=\"2\"} 1\n"), std::string::npos);
    // every metric of the plain rendering, with the same value
    const std::string plain = render_counters(all);
    size_t lines = 0;
    for (size_t at = 0; at < plain.size();) {
        const size_t end = plain.find('\n', at);
        const std::string line = plain.substr(at, end - at + 1);
        EXPECT_NE(text.find("\n" + line), std::string::npos) << line;
        ++lines;
        at = end + 1;
    }
    EXPECT_GT(lines, 30u);
}

TEST(Counters, KtlsDiag) {
    WorkerCounters a;
    WorkerCounters b;
    a.tls_mode_kernel.add(3);
    a.tls_mode_kernel_hw.add(2);
    a.ktls_diag_tx_hw.add(2);
    b.ktls_diag_tx_sw.add(1);
    a.ktls_diag_rx_sw.add(3);
    b.ktls_diag_failed.add(1);
    const WorkerCounters* all[] = {&a, &b};
    std::string text = render_counters(all);
    EXPECT_EQ(metric(text, "sluice_tls_connections_kernel_total"), 3u);
    EXPECT_EQ(metric(text, "sluice_tls_connections_kernel_hw_total"), 2u);
    EXPECT_EQ(metric(text, "sluice_ktls_diag_tx_hw_total"), 2u);
    EXPECT_EQ(metric(text, "sluice_ktls_diag_tx_sw_total"), 1u);
    EXPECT_EQ(metric(text, "sluice_ktls_diag_rx_hw_total"), 0u);
    EXPECT_EQ(metric(text, "sluice_ktls_diag_rx_sw_total"), 3u);
    EXPECT_EQ(metric(text, "sluice_ktls_diag_failed_total"), 1u);
}

TEST(Counters, CountStatusBuckets) {
    WorkerCounters c;
    for (int s : {200, 206, 301, 304, 304, 404, 500, 503, 503, 100, 600}) c.count_status(s);
    EXPECT_EQ(c.responses_2xx.get(), 2u);
    EXPECT_EQ(c.responses_3xx.get(), 3u);
    EXPECT_EQ(c.responses_4xx.get(), 1u);
    EXPECT_EQ(c.responses_5xx.get(), 3u);
    const WorkerCounters* all[] = {&c};
    std::string text = render_counters(all);
    EXPECT_EQ(metric(text, "sluice_server_responses_5xx_total"), 3u);
}

TEST(Counters, ReaderSeesWriterThreadUpdates) {
    WorkerCounters c;
    std::thread writer([&] {
        for (int i = 0; i < 100000; ++i) c.requests.add();
    });
    writer.join();
    const WorkerCounters* all[] = {&c};
    EXPECT_EQ(metric(render_counters(all), "sluice_server_requests_total"), 100000u);
}

}  // namespace
}  // namespace sluice::obs
