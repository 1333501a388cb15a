// Unit tests for the ClientHello peek used for certificate selection.
#include "tls/client_hello.h"

#include <gtest/gtest.h>

#include <string>

using namespace sluice::tls;

namespace {

std::string u16(unsigned v) { return {char(v >> 8), char(v & 0xff)}; }
std::string u24(unsigned v) { return {char(v >> 16), char((v >> 8) & 0xff), char(v & 0xff)}; }

std::string hello_body(const std::string& sni) {
    std::string b = u16(0x0303) + std::string(32, 'r') + std::string(1, '\0');
    b += u16(4) + u16(0x1301) + u16(0xC02B);
    b += std::string("\x01\x00", 2);
    std::string ext;
    std::string list = std::string(1, '\0') + u16(unsigned(sni.size())) + sni;
    ext += u16(0) + u16(unsigned(list.size() + 2)) + u16(unsigned(list.size())) + list;
    ext += u16(13) + u16(6) + u16(4) + u16(0x0403) + u16(0x0804);
    ext += u16(43) + u16(5) + std::string(1, '\x04') + u16(0x0304) + u16(0x0303);
    b += u16(unsigned(ext.size())) + ext;
    return b;
}

std::string records(const std::string& hs, size_t frag) {
    std::string out;
    for (size_t i = 0; i < hs.size(); i += frag) {
        std::string f = hs.substr(i, frag);
        out += std::string("\x16\x03\x01", 3) + u16(unsigned(f.size())) + f;
    }
    return out;
}

}  // namespace

TEST(ClientHello, ParsesSniSigalgsVersions) {
    std::string body = hello_body("WWW.Example.COM");
    std::string hs = std::string(1, '\x01') + u24(unsigned(body.size())) + body;
    std::string in = records(hs, 16384);
    ClientHelloInfo info;
    size_t need = 0;
    ASSERT_EQ(parse_client_hello(in, info, need), HelloStatus::Ok);
    EXPECT_EQ(info.sni, "www.example.com");
    EXPECT_EQ(info.sigalgs, (std::vector<uint16_t>{0x0403, 0x0804}));
    EXPECT_EQ(info.versions, (std::vector<uint16_t>{0x0304, 0x0303}));
    EXPECT_EQ(info.suites, (std::vector<uint16_t>{0x1301, 0xC02B}));
}

TEST(ClientHello, FragmentedAndIncremental) {
    std::string body = hello_body("a.test");
    std::string hs = std::string(1, '\x01') + u24(unsigned(body.size())) + body;
    std::string in = records(hs, 7);
    ClientHelloInfo info;
    for (size_t n = 0; n < in.size(); ++n) {
        size_t need = 0;
        ASSERT_EQ(parse_client_hello(std::string_view(in).substr(0, n), info, need),
                  HelloStatus::NeedMore)
            << n;
        EXPECT_GT(need, n);
        EXPECT_LE(need, in.size());
    }
    size_t need = 0;
    ASSERT_EQ(parse_client_hello(in, info, need), HelloStatus::Ok);
    EXPECT_EQ(info.sni, "a.test");
}

TEST(ClientHello, RejectsNonTls) {
    ClientHelloInfo info;
    size_t need = 0;
    EXPECT_EQ(parse_client_hello("GET / HTTP/1.1\r\n", info, need), HelloStatus::NotHello);
    EXPECT_EQ(parse_client_hello(std::string("\x16\x03\x01\x00\x04\x02\x00\x00\x00", 9), info,
                                 need),
              HelloStatus::NotHello);  // ServerHello type
    // Truncated body inside a complete handshake message.
    std::string hs = std::string("\x01", 1) + u24(3) + "abc";
    EXPECT_EQ(parse_client_hello(records(hs, 100), info, need), HelloStatus::NotHello);
}
