// record/key_update.h — the TLS 1.3 KeyUpdate handshake message (RFC 8446 §4.6.3).
// Contract: wire bytes 24 | 00 00 01 | request (0 = update_not_requested, 1 = requested).
// parse_key_update takes exactly one handshake message: EPROTO (decode_error) on wrong type or
// length, EINVAL (illegal_parameter) on a request value other than 0/1.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "base/result.h"

namespace sluice::record {

inline constexpr uint8_t kHandshakeKeyUpdate = 24;

std::array<uint8_t, 5> key_update_message(bool update_requested);
// Returns update_requested.
Result<bool> parse_key_update(std::span<const uint8_t> msg);

}  // namespace sluice::record
