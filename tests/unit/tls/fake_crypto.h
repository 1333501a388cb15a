// A stand-in for the TLS 1.3 handshake-key AEAD behind tls::HandshakeInput, shared by the unit
// tests and the fuzz target: a record body is seq byte | plaintext | inner type, unprotected,
// so the re-framing logic can be driven without keys.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tls/client_hello.h"

namespace sluice::tls::test_support {

struct FakeCrypto : HandshakeCrypto {
    size_t whole = 0;  // finished_record_len(); 0: every record is opened
    size_t finished_record_len() const override { return whole; }
    bool open(uint64_t seq, std::string_view r, uint8_t& type, std::string& plain) override {
        if (r.size() < 7 || static_cast<uint8_t>(r[5]) != static_cast<uint8_t>(seq)) return false;
        plain.assign(r.substr(6, r.size() - 7));
        type = static_cast<uint8_t>(r.back());
        return true;
    }
    bool seal(uint64_t seq, uint8_t type, std::string_view p, std::string& out) override {
        const size_t n = p.size() + 2;
        out += std::string("\x17\x03\x03", 3);
        out += static_cast<char>(n >> 8);
        out += static_cast<char>(n & 0xff);
        out += static_cast<char>(seq);
        out += p;
        out += static_cast<char>(type);
        return true;
    }
};

}  // namespace sluice::tls::test_support
