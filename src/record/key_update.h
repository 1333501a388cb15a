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

// Who moves a direction to its next key when a peer's KeyUpdate arrives.
enum class Rekey : uint8_t {
    None,    // nothing to do (TX when no update was requested)
    User,    // the userspace record layer (Opener/Sealer::update_key)
    Kernel,  // setsockopt TLS_RX/TLS_TX with the next key (kernel ≥ 6.14)
};
struct KeyUpdatePlan {
    bool close = false;  // a kernel direction that cannot rekey: end the connection cleanly
    Rekey rx = Rekey::None;
    Rekey tx = Rekey::None;  // ours goes out under the old key first, then the key changes
};

// The choice for a connection whose directions are in the kernel or userspace. Kernels before
// 6.14 cannot take a second TLS_RX/TLS_TX: then a kernel RX (it already refuses to decrypt the
// next record) or a kernel TX that owes the peer a KeyUpdate means a clean close.
constexpr KeyUpdatePlan plan_key_update(bool rx_kernel, bool tx_kernel, bool kernel_can_rekey,
                                        bool update_requested) {
    KeyUpdatePlan p;
    p.rx = rx_kernel ? Rekey::Kernel : Rekey::User;
    if (update_requested) p.tx = tx_kernel ? Rekey::Kernel : Rekey::User;
    if (!kernel_can_rekey && (p.rx == Rekey::Kernel || p.tx == Rekey::Kernel)) {
        return KeyUpdatePlan{true, Rekey::None, Rekey::None};
    }
    return p;
}

}  // namespace sluice::record
