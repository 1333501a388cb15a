#include "record/key_update.h"

namespace sluice::record {

std::array<uint8_t, 5> key_update_message(bool update_requested) {
    return {kHandshakeKeyUpdate, 0, 0, 1, static_cast<uint8_t>(update_requested ? 1 : 0)};
}

Result<bool> parse_key_update(std::span<const uint8_t> msg) {
    if (msg.size() != 5 || msg[0] != kHandshakeKeyUpdate || msg[1] != 0 || msg[2] != 0 ||
        msg[3] != 1) {
        return fail(EPROTO);
    }
    if (msg[4] > 1) return fail(EINVAL);
    return msg[4] == 1;
}

}  // namespace sluice::record
