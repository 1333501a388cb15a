// config/config.h — command-line parsing into a validated Config.
// parse_cli never prints and never exits: it returns what to do (run / help / version) or a
// single-line error naming the offending flag. Filesystem checks (does ROOT exist?) are the
// caller's job; everything here is pure validation of the arguments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <string>
#include <vector>

#include "base/addr.h"

namespace sluice::config {

struct Config {
    std::string root = "www";                  // positional ROOT
    std::vector<SocketAddr> listen;            // --listen, repeatable; 127.0.0.1:8080 if none
    int threads = 1;                           // --threads 1..1024; default: online CPUs
    std::string access_log = "-";              // --access-log PATH | "-" (stdout) | "off"
    uint64_t max_connections = 16384;          // --max-connections, total across workers
    double header_timeout_s = 10;              // --header-timeout; all timeouts are > 0
    double keepalive_timeout_s = 75;           // --keepalive-timeout
    double send_timeout_s = 60;                // --send-timeout
    double shutdown_grace_s = 10;              // --shutdown-grace
    bool autoindex = false;                    // --autoindex: list directories without index
    bool dotfiles = false;                     // --dotfiles: serve names starting with '.'
    uint64_t small_file_max = 64 * 1024;       // --small-file-max: cache/inline below this
    uint64_t cache_max_bytes = 64 * 1024 * 1024;  // --cache-size, per worker; 0 disables
    int backlog = 4096;                        // --backlog 1..65535
    std::string server_header = "sluice";      // --server-name, value of the Server header
    // --metrics-listen: /metrics (Prometheus text) and /health on an address of its own;
    // len 0: off.
    SocketAddr metrics_listen{};

    // HTTPS (see docs/design.md, "Who does the crypto").
    enum class Ktls { Auto, Require, Off };
    enum class KtlsDiag { Auto, Always, Off };
    struct CertKey {
        std::string cert_file;
        std::string key_file;
    };
    std::vector<SocketAddr> tls_listen;        // --tls-listen, repeatable
    std::vector<CertKey> certs;                // --cert FILE --key FILE, repeatable pairs
    bool self_signed = false;                  // --self-signed
    Ktls ktls = Ktls::Auto;                    // --ktls auto|require|off
    KtlsDiag ktls_diag = KtlsDiag::Auto;       // --ktls-diag auto|always|off
    bool tls_tx_zerocopy_ro = false;           // --tls-tx-zerocopy-ro
    bool http2 = true;                         // --http2: ALPN h2 on TLS listeners
    bool h2c = true;                           // --h2c: prior-knowledge HTTP/2 on plain ones
    bool h2_data_splice = false;               // --h2-data splice: file DATA by splice
    std::string tls_versions = "1.2,1.3";      // --tls-versions 1.2|1.3|1.2,1.3
    std::string ciphers;                       // --ciphers LIST (empty: all allowed suites)
    std::string ticket_keys_file;              // --ticket-keys FILE
    double handshake_timeout_s = 10;           // --handshake-timeout
};

enum class CliAction { Run, Help, Version, KtlsProbe };

struct CliResult {
    CliAction action = CliAction::Run;
    Config config;
};

// Number of online CPUs clamped to 1..1024 (the --threads default).
int default_threads();

// argv[0] is skipped. Accepts "--flag VALUE" and "--flag=VALUE"; "--" ends options.
// On error returns one line without a trailing newline, e.g.
// "--threads: expected an integer 1..1024, got 'x'" or "unknown option '--foo' (see --help)".
std::expected<CliResult, std::string> parse_cli(int argc, char** argv);

// Full --help text (ends with a newline); documents every flag and its default.
std::string help_text();

// "sluice <version>\n" plus a line naming the compiler used for the build.
std::string version_text();

}  // namespace sluice::config
