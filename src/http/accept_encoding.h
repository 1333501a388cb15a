// http/accept_encoding.h — content negotiation over precompressed variants (RFC 9110 §12.5.3).
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice::http {

enum class Encoding : uint8_t { Identity = 0, Gzip = 1, Zstd = 2, Br = 3 };
constexpr unsigned kEncodingCount = 4;
constexpr unsigned encoding_bit(Encoding e) { return 1u << static_cast<unsigned>(e); }

// "gzip", "zstd", "br" (empty for identity): the Content-Encoding value.
std::string_view encoding_name(Encoding e);
// File suffix of the precompressed sibling: ".gz", ".zst", ".br" (empty for identity).
std::string_view encoding_suffix(Encoding e);

// Picks the best encoding among `available` (bitmask of encoding_bit; identity is always
// available). Highest q wins; ties prefer br > zstd > gzip > identity. q=0 refuses; "*" covers
// anything not listed; an unlisted identity ranks below every listed coding. If even identity
// is refused, returns Identity anyway (we never 406).
Encoding choose_encoding(std::string_view accept_encoding, unsigned available);

}  // namespace sluice::http
