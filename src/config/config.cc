#include "config/config.h"

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <string_view>

#include "obs/access_log.h"

#ifndef SLUICE_VERSION
#error "SLUICE_VERSION must be defined by the build"
#endif

namespace sluice::config {

namespace {

constexpr int kMaxThreads = 1024;
constexpr uint64_t kMaxConnectionsLimit = 10'000'000;
constexpr int kMaxBacklog = 65535;
// Upper bound keeps seconds->nanoseconds conversions far from overflow.
constexpr double kMaxTimeoutS = 1e6;
constexpr size_t kMaxServerName = 128;
constexpr const char* kDefaultListen = "127.0.0.1:8080";

enum class Opt {
    Help, Version, Listen, Threads, AccessLog, MaxConnections, HeaderTimeout, KeepaliveTimeout,
    SendTimeout, ShutdownGrace, Autoindex, Dotfiles, SmallFileMax, CacheSize, Backlog,
    ServerName, TlsListen, Cert, Key, SelfSigned, Ktls, TlsTxZerocopyRo, TlsVersions, Ciphers,
    TicketKeys, HandshakeTimeout, KtlsProbe, KtlsDiag, Http2, H2c, H2Data, MetricsListen,
};

struct OptSpec {
    std::string_view name;
    Opt id;
    bool takes_value;
};

constexpr OptSpec kOptions[] = {
    {"--help", Opt::Help, false},
    {"-h", Opt::Help, false},
    {"--version", Opt::Version, false},
    {"-V", Opt::Version, false},
    {"--listen", Opt::Listen, true},
    {"--threads", Opt::Threads, true},
    {"--access-log", Opt::AccessLog, true},
    {"--max-connections", Opt::MaxConnections, true},
    {"--header-timeout", Opt::HeaderTimeout, true},
    {"--keepalive-timeout", Opt::KeepaliveTimeout, true},
    {"--send-timeout", Opt::SendTimeout, true},
    {"--shutdown-grace", Opt::ShutdownGrace, true},
    {"--autoindex", Opt::Autoindex, false},
    {"--dotfiles", Opt::Dotfiles, false},
    {"--small-file-max", Opt::SmallFileMax, true},
    {"--cache-size", Opt::CacheSize, true},
    {"--backlog", Opt::Backlog, true},
    {"--server-name", Opt::ServerName, true},
    {"--tls-listen", Opt::TlsListen, true},
    {"--cert", Opt::Cert, true},
    {"--key", Opt::Key, true},
    {"--self-signed", Opt::SelfSigned, false},
    {"--ktls", Opt::Ktls, true},
    {"--tls-tx-zerocopy-ro", Opt::TlsTxZerocopyRo, false},
    {"--tls-versions", Opt::TlsVersions, true},
    {"--ciphers", Opt::Ciphers, true},
    {"--ticket-keys", Opt::TicketKeys, true},
    {"--handshake-timeout", Opt::HandshakeTimeout, true},
    {"--ktls-probe", Opt::KtlsProbe, false},
    {"--ktls-diag", Opt::KtlsDiag, true},
    {"--http2", Opt::Http2, true},
    {"--h2c", Opt::H2c, true},
    {"--h2-data", Opt::H2Data, true},
    {"--metrics-listen", Opt::MetricsListen, true},
};

// Echoes user input in an error with control bytes escaped, so the message stays one line.
std::string quoted(std::string_view s) {
    std::string out = "'";
    obs::append_escaped(out, s);
    out.push_back('\'');
    return out;
}

std::unexpected<std::string> flag_error(std::string_view flag, std::string_view expected,
                                        std::string_view got) {
    std::string msg(flag);
    msg.append(": expected ");
    msg.append(expected);
    msg.append(", got ");
    msg.append(quoted(got));
    return std::unexpected(std::move(msg));
}

bool parse_u64(std::string_view s, uint64_t& out) {
    if (s.empty()) return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size();
}

// Integer with an optional binary suffix K, M or G (case-insensitive).
bool parse_size(std::string_view s, uint64_t& out) {
    uint64_t mult = 1;
    if (!s.empty()) {
        switch (s.back()) {
            case 'k': case 'K': mult = uint64_t{1} << 10; break;
            case 'm': case 'M': mult = uint64_t{1} << 20; break;
            case 'g': case 'G': mult = uint64_t{1} << 30; break;
            default: break;
        }
        if (mult != 1) s.remove_suffix(1);
    }
    uint64_t n = 0;
    if (!parse_u64(s, n) || n > UINT64_MAX / mult) return false;
    out = n * mult;
    return true;
}

bool parse_seconds(std::string_view s, double& out) {
    if (s.empty()) return false;
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) return false;
    if (!std::isfinite(v) || v <= 0 || v > kMaxTimeoutS) return false;
    out = v;
    return true;
}

bool valid_server_name(std::string_view s) {
    if (s.empty() || s.size() > kMaxServerName) return false;
    // Goes verbatim into a response header: printable ASCII only, so no CR/LF injection.
    for (char c : s) {
        if (c < 0x20 || c > 0x7e) return false;
    }
    return s.front() != ' ' && s.back() != ' ';
}

bool same_addr(const SocketAddr& a, const SocketAddr& b) {
    return a.len == b.len && std::memcmp(&a.ss, &b.ss, a.len) == 0;
}

std::expected<void, std::string> apply(Opt id, std::string_view flag, std::string_view value,
                                       Config& cfg) {
    switch (id) {
        case Opt::Listen: {
            auto addr = parse_socket_addr(value);
            if (!addr) return std::unexpected(std::string(flag) + ": " + addr.error());
            for (const SocketAddr& existing : cfg.listen) {
                if (same_addr(existing, *addr)) {
                    return std::unexpected(std::string(flag) + ": duplicate address " +
                                           quoted(value));
                }
            }
            cfg.listen.push_back(*addr);
            return {};
        }
        case Opt::MetricsListen: {
            auto addr = parse_socket_addr(value);
            if (!addr) return std::unexpected(std::string(flag) + ": " + addr.error());
            cfg.metrics_listen = *addr;
            return {};
        }
        case Opt::Threads: {
            uint64_t n = 0;
            if (!parse_u64(value, n) || n < 1 || n > kMaxThreads) {
                return flag_error(flag, "an integer 1..1024", value);
            }
            cfg.threads = static_cast<int>(n);
            return {};
        }
        case Opt::AccessLog:
            if (value.empty()) return flag_error(flag, "a file path, '-' or 'off'", value);
            cfg.access_log = std::string(value);
            return {};
        case Opt::MaxConnections: {
            uint64_t n = 0;
            if (!parse_u64(value, n) || n < 1 || n > kMaxConnectionsLimit) {
                return flag_error(flag, "an integer 1..10000000", value);
            }
            cfg.max_connections = n;
            return {};
        }
        case Opt::HeaderTimeout:
        case Opt::KeepaliveTimeout:
        case Opt::SendTimeout:
        case Opt::ShutdownGrace: {
            double v = 0;
            if (!parse_seconds(value, v)) {
                return flag_error(flag, "seconds > 0 (decimals allowed, at most 1000000)",
                                  value);
            }
            double& field = id == Opt::HeaderTimeout      ? cfg.header_timeout_s
                            : id == Opt::KeepaliveTimeout ? cfg.keepalive_timeout_s
                            : id == Opt::SendTimeout      ? cfg.send_timeout_s
                                                          : cfg.shutdown_grace_s;
            field = v;
            return {};
        }
        case Opt::SmallFileMax:
        case Opt::CacheSize: {
            uint64_t n = 0;
            if (!parse_size(value, n)) {
                return flag_error(flag, "a byte count with optional K/M/G suffix", value);
            }
            (id == Opt::SmallFileMax ? cfg.small_file_max : cfg.cache_max_bytes) = n;
            return {};
        }
        case Opt::Backlog: {
            uint64_t n = 0;
            if (!parse_u64(value, n) || n < 1 || n > kMaxBacklog) {
                return flag_error(flag, "an integer 1..65535", value);
            }
            cfg.backlog = static_cast<int>(n);
            return {};
        }
        case Opt::ServerName:
            if (!valid_server_name(value)) {
                return flag_error(flag, "1..128 printable ASCII characters", value);
            }
            cfg.server_header = std::string(value);
            return {};
        case Opt::TlsListen: {
            auto addr = parse_socket_addr(value);
            if (!addr) return std::unexpected(std::string(flag) + ": " + addr.error());
            cfg.tls_listen.push_back(*addr);
            return {};
        }
        case Opt::Cert:
            if (value.empty()) return flag_error(flag, "a PEM file", value);
            if (!cfg.certs.empty() && cfg.certs.back().key_file.empty()) {
                return std::unexpected(std::string(flag) + " " + quoted(value) +
                                       ": the previous --cert has no --key yet");
            }
            cfg.certs.push_back({std::string(value), {}});
            return {};
        case Opt::Key:
            if (value.empty()) return flag_error(flag, "a PEM file", value);
            if (cfg.certs.empty() || !cfg.certs.back().key_file.empty()) {
                return std::unexpected(std::string(flag) + " " + quoted(value) +
                                       ": give --cert FILE before its --key FILE");
            }
            cfg.certs.back().key_file = std::string(value);
            return {};
        case Opt::SelfSigned:
            cfg.self_signed = true;
            return {};
        case Opt::Ktls:
            if (value == "auto") {
                cfg.ktls = Config::Ktls::Auto;
            } else if (value == "require") {
                cfg.ktls = Config::Ktls::Require;
            } else if (value == "off") {
                cfg.ktls = Config::Ktls::Off;
            } else {
                return flag_error(flag, "auto, require or off", value);
            }
            return {};
        case Opt::Http2:
        case Opt::H2c: {
            bool on = false;
            if (value == "on")
                on = true;
            else if (value != "off")
                return flag_error(flag, "on or off", value);
            (id == Opt::Http2 ? cfg.http2 : cfg.h2c) = on;
            return {};
        }
        case Opt::H2Data:
            if (value == "copy")
                cfg.h2_data_splice = false;
            else if (value == "splice")
                cfg.h2_data_splice = true;
            else
                return flag_error(flag, "copy or splice", value);
            return {};
        case Opt::KtlsDiag:
            if (value == "auto") {
                cfg.ktls_diag = Config::KtlsDiag::Auto;
            } else if (value == "always") {
                cfg.ktls_diag = Config::KtlsDiag::Always;
            } else if (value == "off") {
                cfg.ktls_diag = Config::KtlsDiag::Off;
            } else {
                return flag_error(flag, "auto, always or off", value);
            }
            return {};
        case Opt::TlsTxZerocopyRo:
            cfg.tls_tx_zerocopy_ro = true;
            return {};
        case Opt::TlsVersions:
            if (value != "1.2" && value != "1.3" && value != "1.2,1.3" && value != "1.3,1.2") {
                return flag_error(flag, "1.2, 1.3 or 1.2,1.3", value);
            }
            cfg.tls_versions = value == "1.3,1.2" ? "1.2,1.3" : std::string(value);
            return {};
        case Opt::Ciphers:
            if (value.empty()) return flag_error(flag, "a ':'-separated list of suites", value);
            cfg.ciphers = std::string(value);
            return {};
        case Opt::TicketKeys:
            if (value.empty()) return flag_error(flag, "a file path", value);
            cfg.ticket_keys_file = std::string(value);
            return {};
        case Opt::HandshakeTimeout: {
            double v = 0;
            if (!parse_seconds(value, v)) {
                return flag_error(flag, "seconds > 0 (decimals allowed, at most 1000000)",
                                  value);
            }
            cfg.handshake_timeout_s = v;
            return {};
        }
        case Opt::KtlsProbe:
            break;  // handled by the caller
        case Opt::Autoindex:
            cfg.autoindex = true;
            return {};
        case Opt::Dotfiles:
            cfg.dotfiles = true;
            return {};
        case Opt::Help:
        case Opt::Version:
            break;  // handled by the caller
    }
    return {};
}

}  // namespace

int default_threads() {
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) return 1;
    return n > kMaxThreads ? kMaxThreads : static_cast<int>(n);
}

std::expected<CliResult, std::string> parse_cli(int argc, char** argv) {
    CliResult result;
    Config& cfg = result.config;
    cfg.threads = default_threads();
    bool have_root = false;
    bool options_done = false;

    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        bool is_option = !options_done && arg.size() > 1 && arg.front() == '-';
        if (is_option && arg == "--") {
            options_done = true;
            continue;
        }
        if (!is_option) {
            if (have_root) {
                return std::unexpected("unexpected extra argument " + quoted(arg) +
                                       " (ROOT already given as " + quoted(cfg.root) + ")");
            }
            if (arg.empty()) return std::unexpected(std::string("ROOT must not be empty"));
            cfg.root = std::string(arg);
            have_root = true;
            continue;
        }

        std::string_view name = arg;
        std::string_view inline_value;
        bool has_inline = false;
        if (size_t eq = arg.find('='); eq != std::string_view::npos && arg.starts_with("--")) {
            name = arg.substr(0, eq);
            inline_value = arg.substr(eq + 1);
            has_inline = true;
        }

        const OptSpec* spec = nullptr;
        for (const OptSpec& o : kOptions) {
            if (o.name == name) spec = &o;
        }
        if (spec == nullptr) {
            return std::unexpected("unknown option " + quoted(name) + " (see --help)");
        }

        std::string_view value;
        if (spec->takes_value) {
            if (has_inline) {
                value = inline_value;
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                return std::unexpected(std::string(name) + ": missing value");
            }
        } else if (has_inline) {
            return std::unexpected(std::string(name) + ": takes no value");
        }

        if (spec->id == Opt::Help || spec->id == Opt::Version) {
            result.action = spec->id == Opt::Help ? CliAction::Help : CliAction::Version;
            return result;
        }
        if (spec->id == Opt::KtlsProbe) {
            result.action = CliAction::KtlsProbe;
            return result;
        }
        if (auto applied = apply(spec->id, name, value, cfg); !applied) {
            return std::unexpected(std::move(applied.error()));
        }
    }

    if (!cfg.certs.empty() && cfg.certs.back().key_file.empty()) {
        return std::unexpected("--cert " + quoted(cfg.certs.back().cert_file) +
                               ": missing its --key FILE");
    }
    if (!cfg.tls_listen.empty() && cfg.certs.empty() && !cfg.self_signed) {
        return std::unexpected(
            std::string("--tls-listen needs a certificate: --cert FILE --key FILE or --self-signed"));
    }
    if (cfg.listen.empty() && cfg.tls_listen.empty()) {
        auto addr = parse_socket_addr(kDefaultListen);
        if (addr && cfg.metrics_listen.len != 0 && same_addr(*addr, cfg.metrics_listen))
            return std::unexpected("--metrics-listen: " + format_socket_addr(addr->get()) +
                                   " is the default --listen address; metrics need their own");
        // kDefaultListen is a constant known to parse; a failure here is a programming error.
        if (!addr) return std::unexpected("internal error: " + addr.error());
        cfg.listen.push_back(*addr);
    }
    if (cfg.metrics_listen.len != 0) {
        // Never on a public port: the counters are for the operator, not the clients.
        for (const auto* list : {&cfg.listen, &cfg.tls_listen})
            for (const SocketAddr& a : *list)
                if (same_addr(a, cfg.metrics_listen))
                    return std::unexpected("--metrics-listen: " + format_socket_addr(a.get()) +
                                           " is also a --listen/--tls-listen address");
    }
    return result;
}

std::string help_text() {
    std::string threads = std::to_string(default_threads());
    return "Usage: sluice [OPTIONS] [ROOT]\n"
           "\n"
           "Serve static files from ROOT (default: www) over HTTP/1.1 using io_uring.\n"
           "Values may be given as '--flag VALUE' or '--flag=VALUE'; '--' ends options.\n"
           "\n"
           "Options:\n"
           "  --listen ADDR:PORT       address to listen on; repeatable. ADDR is an IPv4\n"
           "                           address, [IPv6] or '*' (all IPv4); no host names.\n"
           "                           Default: 127.0.0.1:8080\n"
           "  --threads N              worker threads, 1..1024. Default: online CPUs (" +
           threads +
           ")\n"
           "  --access-log DEST        file path (appended), '-' for stdout, or 'off'.\n"
           "                           Default: -\n"
           "  --max-connections N      open connections across all workers, 1..10000000;\n"
           "                           accepting pauses at the limit. Default: 16384\n"
           "  --header-timeout S       seconds to receive a full request head. Default: 10\n"
           "  --keepalive-timeout S    seconds an idle keep-alive connection is kept.\n"
           "                           Default: 75\n"
           "  --send-timeout S         seconds a client may stall reading a response.\n"
           "                           Default: 60\n"
           "  --shutdown-grace S       seconds to finish in-flight requests after SIGTERM or\n"
           "                           SIGINT. Default: 10\n"
           "                           (all timeouts: > 0, decimals allowed, e.g. 0.5)\n"
           "  --autoindex              list directories that have no index.html.\n"
           "                           Default: off\n"
           "  --dotfiles               serve files and directories whose name starts with\n"
           "                           '.'. Default: off (they answer 404)\n"
           "  --small-file-max BYTES   files up to this size are served from the in-memory\n"
           "                           cache; larger ones are streamed. Suffixes K, M, G.\n"
           "                           Default: 64K\n"
           "  --cache-size BYTES       file cache size per worker; 0 disables. Suffixes K,\n"
           "                           M, G. Default: 64M\n"
           "  --backlog N              listen(2) backlog, 1..65535. Default: 4096\n"
           "  --server-name STR        value of the Server response header. Default: sluice\n"
           "  --metrics-listen ADDR:PORT  /metrics (Prometheus text) and /health (200, 503\n"
           "                           while draining) on an address of their own, never a\n"
           "                           --listen one. Default: off\n"
           "\n"
           "HTTPS (wolfSSL handshake; records by kernel TLS, or in userspace where the\n"
           "kernel cannot take the keys):\n"
           "  --tls-listen ADDR:PORT   HTTPS address; repeatable. Needs --cert/--key or\n"
           "                           --self-signed. Default: none\n"
           "  --cert FILE --key FILE   PEM certificate chain and its private key (ECDSA or\n"
           "                           RSA); repeat the pair for more certificates: SNI\n"
           "                           picks by name, ECDSA/RSA by the client's signature\n"
           "                           algorithms; the first pair is the default\n"
           "  --self-signed            in-memory ECDSA P-256 certificate for localhost,\n"
           "                           127.0.0.1 and ::1 (for testing)\n"
           "  --ktls MODE              auto: kernel TLS when the kernel accepts the keys,\n"
           "                           else userspace records; require: refuse to start w/o\n"
           "                           the tls ULP and close (with an alert) connections the\n"
           "                           kernel refuses; off: userspace always. Default: auto\n"
           "  --ktls-diag MODE         ask sock_diag, per kTLS connection, whether the NIC\n"
           "                           (kernel-hw) or the kernel CPU (kernel-sw) does the\n"
           "                           records: one netlink round trip per handshake.\n"
           "                           auto: only when an interface has tls-hw-tx-offload\n"
           "                           or tls-hw-rx-offload on at startup; always; off.\n"
           "                           Default: auto\n"
           "  --tls-tx-zerocopy-ro     set TLS_TX_ZEROCOPY_RO on kTLS sockets (NIC offload\n"
           "                           sends file pages without copying). HAZARD: only for\n"
           "                           files never modified in place while being served, or\n"
           "                           clients may receive records that fail to decrypt\n"
           "  --tls-versions V         1.2, 1.3 or 1.2,1.3. Default: 1.2,1.3\n"
           "  --ciphers LIST           ':'-separated suites among TLS_AES_128_GCM_SHA256,\n"
           "                           TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256\n"
           "                           and ECDHE-{ECDSA,RSA}-{AES128-GCM-SHA256,\n"
           "                           AES256-GCM-SHA384,CHACHA20-POLY1305}. Default: all\n"
           "  --ticket-keys FILE       session ticket keys shared by a fleet (newest first\n"
           "                           encrypts, all decrypt; reread on SIGHUP). Default:\n"
           "                           random keys rotated in memory every 12 h\n"
           "  --handshake-timeout S    seconds to complete a TLS handshake. Default: 10\n"
           "  --http2 on|off           offer HTTP/2 (ALPN h2, preferred) on TLS listeners.\n"
           "                           Default: on\n"
           "  --h2c on|off             HTTP/2 with prior knowledge on plain listeners (the\n"
           "                           connection preface is recognised; Upgrade: h2c is\n"
           "                           not supported). Default: on\n"
           "  --h2-data copy|splice    HTTP/2 DATA from files: batches of frames by sendmsg,\n"
           "                           payloads from the file's mapping (cold pages read by\n"
           "                           the ring), or splice each frame's payload like HTTP/1\n"
           "                           bodies (docs/performance.md). Default: copy\n"
           "  --ktls-probe             print what this kernel supports for kTLS and exit\n"
           "\n"
           "  -h, --help               print this help and exit\n"
           "  -V, --version            print the version and exit\n";
}

std::string version_text() {
#if defined(__clang__)
#define SLUICE_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define SLUICE_COMPILER "gcc " __VERSION__
#else
#define SLUICE_COMPILER __VERSION__
#endif
    return "sluice " SLUICE_VERSION "\n"
           "built with " SLUICE_COMPILER "\n";
#undef SLUICE_COMPILER
}

}  // namespace sluice::config
