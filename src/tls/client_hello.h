// tls/client_hello.h — a minimal, allocation-light ClientHello reader (no TLS library).
// Contract: given the first bytes a client sent, say whether a whole ClientHello is there
// (possibly fragmented over several handshake records), how many bytes are still missing, and
// extract what certificate selection needs: SNI host name, signature_algorithms,
// supported_versions, cipher suites, supported groups. It only peeks: nothing is consumed,
// wolfSSL parses the same bytes again. Anything malformed is "NotHello"; the caller then lets
// wolfSSL reject it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::tls {

struct ClientHelloInfo {
    std::string sni;                 // lower-cased host_name, empty when absent
    std::vector<uint16_t> sigalgs;   // signature_algorithms (empty when absent)
    std::vector<uint16_t> versions;  // supported_versions (empty when absent: TLS <= 1.2)
    std::vector<uint16_t> suites;    // cipher_suites
    std::vector<uint16_t> groups;    // supported_groups (empty when absent)
};

enum class HelloStatus { NeedMore, Ok, NotHello };

// `need` is set, on NeedMore, to the total number of input bytes (from the start of `in`)
// required before the next step can be taken.
HelloStatus parse_client_hello(std::string_view in, ClientHelloInfo& out, size_t& need);

}  // namespace sluice::tls
