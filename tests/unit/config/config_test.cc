#include "config/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace sluice::config {
namespace {

std::expected<CliResult, std::string> parse(std::initializer_list<const char*> args) {
    std::vector<std::string> storage{"sluice"};
    for (const char* a : args) storage.emplace_back(a);
    std::vector<char*> argv;
    for (std::string& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    return parse_cli(static_cast<int>(storage.size()), argv.data());
}

Config parse_ok(std::initializer_list<const char*> args) {
    auto r = parse(args);
    EXPECT_TRUE(r.has_value()) << r.error();
    if (!r) return Config{};
    EXPECT_EQ(r->action, CliAction::Run);
    return r->config;
}

std::string parse_err(std::initializer_list<const char*> args) {
    auto r = parse(args);
    EXPECT_FALSE(r.has_value());
    if (r) return "";
    EXPECT_EQ(r.error().find('\n'), std::string::npos) << "error must be one line";
    return r.error();
}

TEST(ParseCli, Defaults) {
    Config c = parse_ok({});
    EXPECT_EQ(c.root, "www");
    ASSERT_EQ(c.listen.size(), 1u);
    EXPECT_EQ(format_socket_addr(c.listen[0].get()), "127.0.0.1:8080");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    EXPECT_EQ(c.threads, cpus < 1 ? 1 : (cpus > 1024 ? 1024 : cpus));
    EXPECT_EQ(c.threads, default_threads());
    EXPECT_EQ(c.access_log, "-");
    EXPECT_EQ(c.max_connections, 16384u);
    EXPECT_DOUBLE_EQ(c.header_timeout_s, 10);
    EXPECT_DOUBLE_EQ(c.keepalive_timeout_s, 75);
    EXPECT_DOUBLE_EQ(c.send_timeout_s, 60);
    EXPECT_DOUBLE_EQ(c.shutdown_grace_s, 10);
    EXPECT_FALSE(c.autoindex);
    EXPECT_FALSE(c.dotfiles);
    EXPECT_EQ(c.small_file_max, 65536u);
    EXPECT_EQ(c.cache_max_bytes, 64u * 1024 * 1024);
    EXPECT_EQ(c.backlog, 4096);
    EXPECT_EQ(c.server_header, "sluice");
}

TEST(ParseCli, EveryFlagSeparateValueForm) {
    Config c = parse_ok({"--listen", "0.0.0.0:81", "--listen", "[::1]:82", "--threads", "3",
                         "--access-log", "/tmp/a.log", "--max-connections", "500",
                         "--header-timeout", "0.5", "--keepalive-timeout", "5",
                         "--send-timeout", "7.25", "--shutdown-grace", "2", "--autoindex",
                         "--dotfiles", "--small-file-max", "16K", "--cache-size", "2M",
                         "--backlog", "128", "--server-name", "edge/1.0", "/srv/site"});
    ASSERT_EQ(c.listen.size(), 2u);
    EXPECT_EQ(format_socket_addr(c.listen[0].get()), "0.0.0.0:81");
    EXPECT_EQ(format_socket_addr(c.listen[1].get()), "[::1]:82");
    EXPECT_EQ(c.threads, 3);
    EXPECT_EQ(c.access_log, "/tmp/a.log");
    EXPECT_EQ(c.max_connections, 500u);
    EXPECT_DOUBLE_EQ(c.header_timeout_s, 0.5);
    EXPECT_DOUBLE_EQ(c.keepalive_timeout_s, 5);
    EXPECT_DOUBLE_EQ(c.send_timeout_s, 7.25);
    EXPECT_DOUBLE_EQ(c.shutdown_grace_s, 2);
    EXPECT_TRUE(c.autoindex);
    EXPECT_TRUE(c.dotfiles);
    EXPECT_EQ(c.small_file_max, 16u * 1024);
    EXPECT_EQ(c.cache_max_bytes, 2u * 1024 * 1024);
    EXPECT_EQ(c.backlog, 128);
    EXPECT_EQ(c.server_header, "edge/1.0");
    EXPECT_EQ(c.root, "/srv/site");
}

TEST(ParseCli, EveryFlagEqualsForm) {
    Config c = parse_ok({"site", "--listen=*:81", "--threads=2", "--access-log=off",
                         "--max-connections=1", "--header-timeout=1.5",
                         "--keepalive-timeout=0.25", "--send-timeout=3",
                         "--shutdown-grace=0.1", "--small-file-max=100",
                         "--cache-size=1g", "--backlog=1", "--server-name=a b"});
    ASSERT_EQ(c.listen.size(), 1u);
    EXPECT_EQ(format_socket_addr(c.listen[0].get()), "0.0.0.0:81");
    EXPECT_EQ(c.threads, 2);
    EXPECT_EQ(c.access_log, "off");
    EXPECT_EQ(c.max_connections, 1u);
    EXPECT_DOUBLE_EQ(c.header_timeout_s, 1.5);
    EXPECT_DOUBLE_EQ(c.keepalive_timeout_s, 0.25);
    EXPECT_DOUBLE_EQ(c.send_timeout_s, 3);
    EXPECT_DOUBLE_EQ(c.shutdown_grace_s, 0.1);
    EXPECT_EQ(c.small_file_max, 100u);
    EXPECT_EQ(c.cache_max_bytes, 1024u * 1024 * 1024);
    EXPECT_EQ(c.backlog, 1);
    EXPECT_EQ(c.server_header, "a b");
    EXPECT_EQ(c.root, "site");
}

TEST(ParseCli, EqualsFormKeepsLaterEqualsSigns) {
    Config c = parse_ok({"--access-log=/tmp/x=y.log"});
    EXPECT_EQ(c.access_log, "/tmp/x=y.log");
}

TEST(ParseCli, CacheSizeZeroDisables) {
    EXPECT_EQ(parse_ok({"--cache-size", "0"}).cache_max_bytes, 0u);
}

TEST(ParseCli, DoubleDashEndsOptions) {
    Config c = parse_ok({"--threads", "1", "--", "--weird-root"});
    EXPECT_EQ(c.root, "--weird-root");
    EXPECT_EQ(c.threads, 1);
}

TEST(ParseCli, BadThreads) {
    EXPECT_EQ(parse_err({"--threads", "x"}), "--threads: expected an integer 1..1024, got 'x'");
    EXPECT_EQ(parse_err({"--threads=0"}), "--threads: expected an integer 1..1024, got '0'");
    EXPECT_EQ(parse_err({"--threads", "1025"}),
              "--threads: expected an integer 1..1024, got '1025'");
    EXPECT_EQ(parse_err({"--threads", "-2"}), "--threads: expected an integer 1..1024, got '-2'");
    EXPECT_EQ(parse_err({"--threads", "4x"}), "--threads: expected an integer 1..1024, got '4x'");
    EXPECT_EQ(parse_err({"--threads="}), "--threads: expected an integer 1..1024, got ''");
}

TEST(ParseCli, BadTimeoutsNameTheFlag) {
    for (const char* flag :
         {"--header-timeout", "--keepalive-timeout", "--send-timeout", "--shutdown-grace"}) {
        for (const char* bad : {"0", "-1", "abc", "nan", "inf", "1.5s", "1e7"}) {
            auto r = parse({flag, bad});
            ASSERT_FALSE(r.has_value()) << flag << " " << bad;
            EXPECT_EQ(r.error().rfind(std::string(flag) + ": expected seconds > 0", 0), 0u)
                << r.error();
            EXPECT_NE(r.error().find(std::string("got '") + bad + "'"), std::string::npos);
            EXPECT_EQ(r.error().find('\n'), std::string::npos);
        }
    }
}

TEST(ParseCli, BadSizes) {
    EXPECT_EQ(parse_err({"--small-file-max", "12Q"}),
              "--small-file-max: expected a byte count with optional K/M/G suffix, got '12Q'");
    EXPECT_EQ(parse_err({"--cache-size=M"}),
              "--cache-size: expected a byte count with optional K/M/G suffix, got 'M'");
    EXPECT_EQ(parse_err({"--cache-size", "99999999999999999G"}),
              "--cache-size: expected a byte count with optional K/M/G suffix, "
              "got '99999999999999999G'");
}

TEST(ParseCli, BadOtherValues) {
    EXPECT_EQ(parse_err({"--max-connections", "0"}),
              "--max-connections: expected an integer 1..10000000, got '0'");
    EXPECT_EQ(parse_err({"--backlog", "65536"}),
              "--backlog: expected an integer 1..65535, got '65536'");
    EXPECT_EQ(parse_err({"--access-log="}),
              "--access-log: expected a file path, '-' or 'off', got ''");
    EXPECT_EQ(parse_err({"--server-name", "x\r\nSet-Cookie: a=b"}),
              "--server-name: expected 1..128 printable ASCII characters, "
              "got 'x\\x0D\\x0ASet-Cookie: a=b'");
    EXPECT_EQ(parse_err({"--server-name="}),
              "--server-name: expected 1..128 printable ASCII characters, got ''");
}

TEST(ParseCli, BadListen) {
    EXPECT_EQ(parse_err({"--listen", "localhost:80"}).rfind("--listen: 'localhost:80': ", 0), 0u);
    EXPECT_EQ(parse_err({"--listen=1.2.3.4"}).rfind("--listen: '1.2.3.4': missing port", 0), 0u);
    EXPECT_EQ(parse_err({"--listen", "1.2.3.4:0"}),
              "--listen: '1.2.3.4:0': port must be an integer 1..65535");
    EXPECT_EQ(parse_err({"--listen", "*:80", "--listen", "0.0.0.0:80"}),
              "--listen: duplicate address '0.0.0.0:80'");
}

TEST(ParseCli, ErrorsEscapeControlBytesInEchoedInput) {
    EXPECT_EQ(parse_err({"--bad\nflag"}), "unknown option '--bad\\x0Aflag' (see --help)");
    EXPECT_EQ(parse_err({"--listen", "1.2.3.4:8\n0"}),
              "--listen: '1.2.3.4:8\\x0A0': port must be an integer 1..65535");
    EXPECT_EQ(parse_err({"a", "b\x1b[2J"}),
              "unexpected extra argument 'b\\x1B[2J' (ROOT already given as 'a')");
}

TEST(ParseCli, MissingValue) {
    EXPECT_EQ(parse_err({"--threads"}), "--threads: missing value");
    EXPECT_EQ(parse_err({"--listen"}), "--listen: missing value");
}

TEST(ParseCli, SwitchRejectsValue) {
    EXPECT_EQ(parse_err({"--autoindex=yes"}), "--autoindex: takes no value");
}

TEST(ParseCli, UnknownOption) {
    EXPECT_EQ(parse_err({"--foo"}), "unknown option '--foo' (see --help)");
    EXPECT_EQ(parse_err({"--foo=1"}), "unknown option '--foo' (see --help)");
    EXPECT_EQ(parse_err({"-x"}), "unknown option '-x' (see --help)");
}

TEST(ParseCli, TwoPositionalRoots) {
    EXPECT_EQ(parse_err({"a", "b"}), "unexpected extra argument 'b' (ROOT already given as 'a')");
}

TEST(ParseCli, HelpAndVersion) {
    for (const char* flag : {"--help", "-h"}) {
        auto r = parse({"--threads", "2", flag});
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(r->action, CliAction::Help);
    }
    for (const char* flag : {"--version", "-V"}) {
        auto r = parse({flag});
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(r->action, CliAction::Version);
    }
}

TEST(HelpText, DocumentsEveryFlagWithDefault) {
    std::string h = help_text();
    EXPECT_EQ(h.rfind("Usage: sluice [OPTIONS] [ROOT]\n", 0), 0u);
    for (const char* flag :
         {"--listen", "--threads", "--access-log", "--max-connections", "--header-timeout",
          "--keepalive-timeout", "--send-timeout", "--shutdown-grace", "--autoindex",
          "--dotfiles", "--small-file-max", "--cache-size", "--backlog", "--server-name",
          "--help", "--version"}) {
        EXPECT_NE(h.find(flag), std::string::npos) << flag;
    }
    for (const char* def : {"Default: 127.0.0.1:8080", "Default: 16384", "Default: 10",
                            "Default: 75", "Default: 60", "Default: 64K", "Default: 64M",
                            "Default: 4096", "Default: sluice", "Default: -"}) {
        EXPECT_NE(h.find(def), std::string::npos) << def;
    }
    EXPECT_EQ(h.back(), '\n');
    std::size_t start = 0;
    while (start < h.size()) {
        std::size_t end = h.find('\n', start);
        EXPECT_LE(end - start, 80u) << h.substr(start, end - start);
        start = end + 1;
    }
}

TEST(VersionText, NamesVersionAndCompiler) {
    std::string v = version_text();
    EXPECT_EQ(v.rfind("sluice " SLUICE_VERSION "\n", 0), 0u) << v;
    EXPECT_NE(v.find("built with "), std::string::npos);
    EXPECT_EQ(v.back(), '\n');
}

}  // namespace
}  // namespace sluice::config

namespace sluice::config {
namespace {

TEST(ParseCliTls, CertKeyPairsAndModes) {
    Config c = parse_ok({"--tls-listen", "127.0.0.1:8443", "--cert", "a.pem", "--key", "a.key",
                   "--cert=b.pem", "--key=b.key", "--ktls", "require", "--tls-tx-zerocopy-ro",
                   "--tls-versions", "1.3", "--ciphers", "TLS_AES_128_GCM_SHA256",
                   "--ticket-keys", "t.key", "--handshake-timeout", "2.5"});
    ASSERT_EQ(c.certs.size(), 2u);
    EXPECT_EQ(c.certs[1].cert_file, "b.pem");
    EXPECT_EQ(c.certs[1].key_file, "b.key");
    EXPECT_EQ(c.ktls, Config::Ktls::Require);
    EXPECT_TRUE(c.tls_tx_zerocopy_ro);
    EXPECT_EQ(c.tls_versions, "1.3");
    EXPECT_EQ(c.ticket_keys_file, "t.key");
    EXPECT_DOUBLE_EQ(c.handshake_timeout_s, 2.5);
    ASSERT_EQ(c.tls_listen.size(), 1u);
    EXPECT_TRUE(c.listen.empty()) << "no plain listener unless asked when --tls-listen is given";
}

TEST(ParseCliTls, ErrorsNameTheFlag) {
    EXPECT_NE(parse_err({"--tls-listen", "127.0.0.1:8443"}).find("--tls-listen needs a certificate"),
              std::string::npos);
    EXPECT_NE(parse_err({"--cert", "a.pem"}).find("missing its --key"), std::string::npos);
    EXPECT_NE(parse_err({"--key", "a.key"}).find("--key"), std::string::npos);
    EXPECT_NE(parse_err({"--ktls", "maybe"}).find("--ktls"), std::string::npos);
    EXPECT_NE(parse_err({"--tls-versions", "1.1"}).find("--tls-versions"), std::string::npos);
    EXPECT_NE(parse_err({"--handshake-timeout", "0"}).find("--handshake-timeout"), std::string::npos);
}

TEST(ParseCliTls, KtlsDiag) {
    Config d = parse_ok({"--tls-listen", "127.0.0.1:8443", "--self-signed"});
    EXPECT_EQ(d.ktls_diag, Config::KtlsDiag::Auto);
    EXPECT_EQ(parse_ok({"--tls-listen", "127.0.0.1:8443", "--self-signed", "--ktls-diag",
                        "always"}).ktls_diag,
              Config::KtlsDiag::Always);
    EXPECT_EQ(parse_ok({"--tls-listen", "127.0.0.1:8443", "--self-signed", "--ktls-diag=off"})
                  .ktls_diag,
              Config::KtlsDiag::Off);
    EXPECT_EQ(parse_err({"--ktls-diag", "yes"}), "--ktls-diag: expected auto, always or off, got 'yes'");
    EXPECT_NE(help_text().find("--ktls-diag MODE"), std::string::npos);
}

TEST(ParseCliTls, ProbeAction) {
    auto r = parse({"--ktls-probe"});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->action, CliAction::KtlsProbe);
}

}  // namespace
}  // namespace sluice::config
