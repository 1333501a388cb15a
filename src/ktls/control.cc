#include "ktls/control.h"

#include <linux/tls.h>

#include <cstring>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

namespace sluice::ktls {

Result<void> ControlSend::prepare(uint8_t record_type, std::span<const uint8_t> bytes) {
    if (bytes.size() > kMaxPayload) return fail(EMSGSIZE);
    if (!bytes.empty()) memcpy(payload, bytes.data(), bytes.size());
    iov.iov_base = payload;
    iov.iov_len = bytes.size();
    memset(&msg, 0, sizeof msg);
    memset(cbuf, 0, sizeof cbuf);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_TLS;
    c->cmsg_type = TLS_SET_RECORD_TYPE;
    c->cmsg_len = CMSG_LEN(1);
    *CMSG_DATA(c) = record_type;
    return {};
}

void ControlSend::prepare_alert(uint8_t level, uint8_t description) {
    const uint8_t body[2] = {level, description};
    (void)prepare(kAlert, body);  // 2 ≤ kMaxPayload: cannot fail
}

void RecvWithType::prepare(char* buf, size_t len) {
    iov.iov_base = buf;
    iov.iov_len = len;
    memset(&msg, 0, sizeof msg);
    memset(cbuf, 0, sizeof cbuf);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
}

std::optional<uint8_t> RecvWithType::record_type() const {
    // CMSG_* take a non-const msghdr; they only read it.
    auto* m = const_cast<msghdr*>(&msg);
    for (cmsghdr* c = CMSG_FIRSTHDR(m); c != nullptr; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level == SOL_TLS && c->cmsg_type == TLS_GET_RECORD_TYPE &&
            c->cmsg_len >= CMSG_LEN(1)) {
            return *CMSG_DATA(c);
        }
    }
    return std::nullopt;
}

}  // namespace sluice::ktls
