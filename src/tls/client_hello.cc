#include "tls/client_hello.h"

#include <algorithm>

namespace sluice::tls {

namespace {

// Bounded big-endian reader; any overrun turns `ok` false and reads return 0.
struct Reader {
    const uint8_t* p;
    size_t n;
    bool ok = true;

    uint32_t u(size_t bytes) {
        if (!ok || n < bytes) { ok = false; return 0; }
        uint32_t v = 0;
        for (size_t i = 0; i < bytes; ++i) v = (v << 8) | p[i];
        p += bytes;
        n -= bytes;
        return v;
    }
    Reader sub(size_t len) {
        if (!ok || n < len) { ok = false; return Reader{p, 0, false}; }
        Reader r{p, len};
        p += len;
        n -= len;
        return r;
    }
};

constexpr size_t kMaxHello = 64 * 1024;  // larger hellos skip selection (wolfSSL decides)

bool parse_body(Reader r, ClientHelloInfo& out) {
    r.u(2);                      // legacy_version
    r.sub(32);                   // random
    r.sub(r.u(1));               // legacy_session_id
    Reader suites = r.sub(r.u(2));
    while (suites.ok && suites.n >= 2) out.suites.push_back(uint16_t(suites.u(2)));
    r.sub(r.u(1));               // compression methods
    if (!r.ok) return false;
    if (r.n == 0) return true;   // no extensions at all
    Reader exts = r.sub(r.u(2));
    while (exts.ok && exts.n > 0) {
        uint32_t type = exts.u(2);
        Reader e = exts.sub(exts.u(2));
        if (!exts.ok) return false;
        if (type == 0) {  // server_name
            Reader list = e.sub(e.u(2));
            while (list.ok && list.n > 0) {
                uint32_t name_type = list.u(1);
                Reader name = list.sub(list.u(2));
                if (name.ok && name_type == 0 && out.sni.empty()) {
                    out.sni.assign(reinterpret_cast<const char*>(name.p), name.n);
                    std::transform(out.sni.begin(), out.sni.end(), out.sni.begin(),
                                   [](char c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; });
                }
            }
        } else if (type == 13) {  // signature_algorithms
            Reader list = e.sub(e.u(2));
            while (list.ok && list.n >= 2) out.sigalgs.push_back(uint16_t(list.u(2)));
        } else if (type == 10) {  // supported_groups
            Reader list = e.sub(e.u(2));
            while (list.ok && list.n >= 2) out.groups.push_back(uint16_t(list.u(2)));
        } else if (type == 43) {  // supported_versions
            Reader list = e.sub(e.u(1));
            while (list.ok && list.n >= 2) out.versions.push_back(uint16_t(list.u(2)));
        }
    }
    return exts.ok;
}

}  // namespace

HelloStatus parse_client_hello(std::string_view in, ClientHelloInfo& out, size_t& need) {
    const auto* data = reinterpret_cast<const uint8_t*>(in.data());
    if (!in.empty() && data[0] != 22) return HelloStatus::NotHello;
    std::string hs;  // reassembled handshake message bytes
    size_t pos = 0;
    for (;;) {
        if (in.size() < pos + 5) { need = pos + 5; return HelloStatus::NeedMore; }
        if (data[pos] != 22 || data[pos + 1] != 3) return HelloStatus::NotHello;
        size_t len = (size_t(data[pos + 3]) << 8) | data[pos + 4];
        if (len == 0 || len > 16384) return HelloStatus::NotHello;
        if (in.size() < pos + 5 + len) { need = pos + 5 + len; return HelloStatus::NeedMore; }
        hs.append(in.substr(pos + 5, len));
        pos += 5 + len;
        if (hs.size() < 4) continue;
        if (uint8_t(hs[0]) != 1) return HelloStatus::NotHello;
        size_t body = (size_t(uint8_t(hs[1])) << 16) | (size_t(uint8_t(hs[2])) << 8) |
                      uint8_t(hs[3]);
        if (body > kMaxHello) return HelloStatus::NotHello;
        if (hs.size() < 4 + body) continue;
        out = {};
        Reader r{reinterpret_cast<const uint8_t*>(hs.data()) + 4, body};
        return parse_body(r, out) ? HelloStatus::Ok : HelloStatus::NotHello;
    }
}

}  // namespace sluice::tls
