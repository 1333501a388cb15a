// Test helper: what a worker hands its sessions — a real file tree under a temp root, the file
// cache, the static-file handler, an access log in a memfd, counters and a clock — for
// driving session::H1 and session::H2 without a ring.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "../files/temp_tree.h"
#include "files/cache.h"
#include "files/mime.h"
#include "files/root.h"
#include "handler/static_file.h"
#include "http/date.h"
#include "obs/access_log.h"
#include "obs/counters.h"
#include "session/session.h"

namespace sluice::session::testing {

struct World {
    files::testing::TempTree tree;
    std::optional<files::Root> root;
    files::MimeTypes mime;
    std::optional<files::FileCache> cache;
    http::DateCache dates;
    std::optional<obs::AccessLog> log;
    int log_fd = -1;
    obs::WorkerCounters counters;
    uint64_t now = 1000;
    handler::Env henv;
    std::optional<handler::StaticFiles> files;
    handler::Response response;
    std::string head;
    Env env;

    // After the files are written: the rest of the world around them.
    void open() {
        auto r = files::Root::open(tree.root());
        ASSERT_TRUE(r.has_value());
        root.emplace(std::move(*r));
        mime = files::MimeTypes::load();
        cache.emplace(*root, mime);
        int fd = ::memfd_create("session-log", MFD_CLOEXEC);
        ASSERT_GE(fd, 0);
        log_fd = ::dup(fd);
        log.emplace(obs::LogSink::from_fd(UniqueFd(fd)));
        henv.cache = &*cache;
        henv.root = &*root;
        henv.dates = &dates;
        henv.now_ms = &now;
        henv.options.server_name = "sluice";
        files.emplace(henv);
        env.files = &*files;
        env.log = &*log;
        env.counters = &counters;
        env.now_ms = &now;
        env.scratch = &response;
        env.head = &head;
        env.header_timeout_s = 10;
        env.keepalive_timeout_s = 5;
        env.send_timeout_s = 30;
    }
    ~World() {
        if (log_fd >= 0) ::close(log_fd);
    }
    std::string log_text() {
        log->flush();
        std::string out(1 << 16, '\0');
        ssize_t n = ::pread(log_fd, out.data(), out.size(), 0);
        out.resize(n > 0 ? static_cast<size_t>(n) : 0);
        return out;
    }
};

}  // namespace sluice::session::testing
