#include "ktls/tls_stat.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <string>

#include "base/fd.h"

namespace sluice::ktls {

namespace {

struct Field {
    std::string_view name;
    uint64_t TlsStat::*member;
};

// Names as printed by net/tls/tls_proc.c.
constexpr Field kFields[] = {
    {"TlsCurrTxSw", &TlsStat::curr_tx_sw},
    {"TlsCurrRxSw", &TlsStat::curr_rx_sw},
    {"TlsCurrTxDevice", &TlsStat::curr_tx_device},
    {"TlsCurrRxDevice", &TlsStat::curr_rx_device},
    {"TlsTxSw", &TlsStat::tx_sw},
    {"TlsRxSw", &TlsStat::rx_sw},
    {"TlsTxDevice", &TlsStat::tx_device},
    {"TlsRxDevice", &TlsStat::rx_device},
    {"TlsDecryptError", &TlsStat::decrypt_error},
    {"TlsRxDeviceResync", &TlsStat::rx_device_resync},
    {"TlsDecryptRetry", &TlsStat::decrypt_retry},
    {"TlsRxNoPadViolation", &TlsStat::rx_no_pad_violation},
    {"TlsRxRekeyOk", &TlsStat::rx_rekey_ok},
    {"TlsRxRekeyError", &TlsStat::rx_rekey_error},
    {"TlsTxRekeyOk", &TlsStat::tx_rekey_ok},
    {"TlsTxRekeyError", &TlsStat::tx_rekey_error},
    {"TlsRxRekeyReceived", &TlsStat::rx_rekey_received},
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

}  // namespace

Result<TlsStat> parse_tls_stat(std::string_view text) {
    TlsStat st;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
        while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
        if (line.empty()) continue;
        size_t sp = 0;
        while (sp < line.size() && !is_space(line[sp])) ++sp;
        std::string_view name = line.substr(0, sp);
        std::string_view num = line.substr(sp);
        while (!num.empty() && is_space(num.front())) num.remove_prefix(1);
        uint64_t v = 0;
        auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
        if (num.empty() || ec != std::errc{} || p != num.data() + num.size()) return fail(EINVAL);
        for (const Field& f : kFields) {
            if (f.name != name) continue;
            st.*f.member = v;
            ++st.fields;
            if (name.find("Rekey") != std::string_view::npos) st.has_rekey = true;
            break;
        }
    }
    return st;
}

Result<TlsStat> read_tls_stat(const char* path) {
    UniqueFd fd(open(path, O_RDONLY | O_CLOEXEC));
    if (!fd) return fail_errno();
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail_errno();
        }
        if (n == 0) break;
        text.append(buf, static_cast<size_t>(n));
    }
    return parse_tls_stat(text);
}

}  // namespace sluice::ktls
